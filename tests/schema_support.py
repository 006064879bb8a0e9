"""Shared by the schema and isolation tests: databases cloned once per module, two tenants seeded with
a row in every tenant table, a realistic multi-tenant data set, acting as the application role, and a
catalog dump to compare schemas with."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from dbtool import cluster, config
from dbtool.checks import query

APP, READONLY, OPS, OWNER, MAINTENANCE = ("maplatform_app", "maplatform_readonly", "maplatform_ops",
                                          "maplatform_owner", "maplatform_maintenance")
STAGES = ["prospecting", "qualification", "analysis", "negotiation", "due_diligence", "closing",
          "closed_won", "closed_lost"]


@contextmanager
def cloned_db(server, label: str):
    """A clone of the migrated template for a whole test module (seeding once is the expensive part)."""
    name = f"{label}_{os.getpid()}"
    url = server.create_db(name, template=server.template)
    try:
        yield url
    finally:
        server.drop_db(name)


@contextmanager
def acting_as(conn: psycopg.Connection, role: str, tenant=None, *, keep: bool = False):
    """One transaction as `role` (the application roles are NOLOGIN: SET ROLE, as a pooler's
    session would), with the tenant set by set_tenant_context from a token minted for it (as the
    trusted side of the application would); rolled back unless `keep`."""
    with conn.transaction(force_rollback=not keep):
        token = tenant_token(conn, tenant) if tenant is not None else None
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        if token is not None:
            conn.execute("SELECT public.set_tenant_context(%s)", [token])
        yield conn


def tenant_token(conn: psycopg.Connection, tenant, ttl: str = "1 hour") -> str:
    """A signed, registered token for `tenant`, minted on the server as an operator would (a signing
    key is added first when the database has none). Call it as a superuser or owner member."""
    if not conn.execute("SELECT EXISTS (SELECT 1 FROM app_private.tenant_keys WHERE retired_at IS NULL)").fetchone()[0]:
        conn.execute("SELECT app.add_tenant_key('test', gen_random_bytes(32))")
    return conn.execute("SELECT app.mint_tenant_token(%s, %s::interval)", [tenant, ttl]).fetchone()[0]


def edition(conn: psycopg.Connection) -> str:
    """timescaledb.license: 'timescale' (community) or 'apache' (Debian's build)."""
    return conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0]


# TimescaleDB before 2.25.2 fails an UPDATE or DELETE on the timeline view that repeats
# `tenant_id = ...` when the view's filter is an equality (the community edition's form; 0018, docs/timescaledb.md).
TIMELINE_DML_BUG = "variable not found in subplan target list"


def timeline_dml_bug(conn: psycopg.Connection) -> bool:
    """Whether this server has that upstream bug in the timeline view's form."""
    version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()[0]
    parts = [int(x) for x in version.split("-")[0].split(".")]
    return edition(conn) == "timescale" and parts < [2, 25, 2]


def refresh_summaries(conn: psycopg.Connection) -> None:
    """Refresh pipeline_analytics and daily_activity_summary as their jobs do. The continuous aggregate
    of the community edition refreshes outside a transaction: `conn` must be in autocommit."""
    conn.execute("SELECT ops.refresh_pipeline_analytics()")
    if edition(conn) == "timescale":
        conn.execute("CALL refresh_continuous_aggregate('timeline.daily_activity_summary', NULL, NULL)")
    else:
        conn.execute("SELECT ops.refresh_daily_activity_summary()")


def attempt(conn: psycopg.Connection, query, params=None) -> tuple[int | None, psycopg.Error | None]:
    """Run one statement in a savepoint: (rows affected, None) or (None, the error)."""
    try:
        with conn.transaction():
            cur = conn.execute(query, params)
            return cur.rowcount, None
    except psycopg.Error as exc:
        return None, exc


def schema_dump(url: str) -> str:
    """The database's schema as pg_dump prints it, without dbtool's own bookkeeping schema."""
    res = subprocess.run([str(cluster.find_bindir() / "pg_dump"), "--schema-only", "--exclude-schema=dbtool",
                          "--dbname", url], capture_output=True, text=True, check=True)
    # pg_dump 15.14+ brackets its output with \restrict <random key> lines (CVE-2025-8714).
    text = "".join(line for line in res.stdout.splitlines(True) if not line.startswith(("\\restrict ", "\\unrestrict ")))
    # TimescaleDB numbers its internal objects (the compressed and materialized hypertables of a
    # re-created compression or continuous aggregate get new numbers): compare them by kind.
    return TIMESCALE_NUMBERS.sub(lambda m: m.group(1) + "N", text)


TIMESCALE_NUMBERS = re.compile(r"\b(_compressed_hypertable_|_direct_view_|_partial_view_|_materialized_hypertable_|"
                               r"compress_hyper_|_hyper_)[0-9]+(?:_[0-9]+)?")


# The tables that hold tenant data, found by the catalog query `dbtool check rls` uses: in any
# application schema, with a tenant_id column, the tenants table itself, or a foreign-key path to
# one. Names come back schema-qualified whatever the search_path.
TENANT_TABLE = "public.tenants"
TENANT_TABLES = ("SELECT format('%%I.%%I', n.nspname, c.relname) FROM (" + query("rls_tables") + "\n) AS t "
                 "JOIN pg_class c ON c.oid = t.table_name::regclass JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "ORDER BY 1")
AUDIT_PARAMS = {"column": "tenant_id", "tenant_table": TENANT_TABLE, "roles": [APP, READONLY],
                # the project's own list, so a private schema a migration adds is left out here as in check rls
                "private": config.load(Path(__file__).resolve().parent.parent).section("rls")["private_schemas"],
                "context": "app.tenant_tokens",
                "function": "app.verified_tenant()"}
# Views with a tenant column that the application may write: its way into a private table (the timeline).
TENANT_VIEWS = """SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class c
                  JOIN pg_namespace n ON n.oid = c.relnamespace
                  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
                  WHERE c.relkind = 'v' AND has_table_privilege(%s, c.oid, 'INSERT') ORDER BY 1"""


def tenant_tables(conn: psycopg.Connection) -> list[str]:
    """Every table that holds tenant data, as `dbtool check rls` finds them (so a table a later
    migration adds, in any schema, is covered without editing the tests)."""
    return [r[0] for r in conn.execute(TENANT_TABLES, AUDIT_PARAMS)]


def tenant_views(conn: psycopg.Connection) -> list[str]:
    """The views through which the application reads and writes a private table with tenant data."""
    return [r[0] for r in conn.execute(TENANT_VIEWS, [APP])]


def base_table(conn: psycopg.Connection, relation: str) -> str:
    """The table a tenant view reads (itself for a table): where a superuser counts its rows."""
    row = conn.execute("""SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_rewrite w
                          JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                          JOIN pg_class c ON c.oid = d.refobjid AND c.relkind IN ('r', 'p')
                          JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE w.ev_class = %s::regclass AND c.oid <> 'app.tenant_tokens'::regclass
                          GROUP BY 1 LIMIT 1""", [relation]).fetchone()
    return row[0] if row else relation


def tenant_column(table: str) -> str:
    return "id" if table in (TENANT_TABLE, TENANT_TABLE.split(".")[1]) else "tenant_id"


def seed_tenant(conn: psycopg.Connection, tag: str, tables: list[str] | None = None,
                timeline: str = "timeline.activity_timeline") -> dict[str, uuid.UUID]:
    """One tenant with a row in every tenant table, each reference pointing inside the tenant.
    Runs as the superuser (no tenant context needed); returns the ids by name. Given the discovered
    `tables`, a table this helper has no row for is an error naming it, before anything is written.
    `timeline` is where the hypertable is (public.activity_timeline before 0018)."""
    i = {k: uuid.uuid4() for k in ("tenant", "user1", "user2", "deal", "folder", "doc", "room", "task1",
                                   "task2", "activity", "archived", "comment", "notification", "valuation",
                                   "analysis", "session")}
    rows = _tenant_rows(tag, i)
    unknown = sorted(set(tables or ()) - {table for table, _, _ in rows})
    if unknown:
        raise AssertionError(f"schema_support.seed_tenant does not know how to fill {', '.join(unknown)}: add an "
                             "INSERT for each (the isolation tests need rows of two tenants in every tenant table)")
    trail = conn.execute("SELECT to_regclass('audit.events') IS NOT NULL").fetchone()[0]  # since 0023
    for table, stmt, params in rows:
        if table != "audit.events" or trail:
            conn.execute(stmt.replace("timeline.activity_timeline", timeline), params)
    return i


def _tenant_rows(tag: str, i: dict[str, uuid.UUID]) -> list[tuple[str, str, dict]]:
    """(table, INSERT, parameters) for one tenant, in dependency order."""
    t = i["tenant"]
    rows = []

    def add(stmt: str, params) -> None:
        table = stmt.split("INSERT INTO ", 1)[1].split()[0]
        rows.append((table, stmt, params))
    add("INSERT INTO public.tenants (id, subdomain, company_name) VALUES (%s, %s, %s)", [t, tag, f"{tag} Ltd"])
    add("""INSERT INTO public.users (id, tenant_id, clerk_id, email) VALUES
           (%(user1)s, %(tenant)s, %(c1)s, %(e1)s), (%(user2)s, %(tenant)s, %(c2)s, %(e2)s)""",
        {**i, "c1": f"clerk-{tag}-1", "e1": f"one@{tag}.example", "c2": f"clerk-{tag}-2", "e2": f"two@{tag}.example"})
    add("""INSERT INTO public.user_sessions (id, tenant_id, user_id, token_hash, expires_at)
           VALUES (%(session)s, %(tenant)s, %(user1)s, %(token)s, now() + INTERVAL '1 day')""",
        {**i, "token": uuid.uuid4().hex * 2})  # 64 hex digits, the shape of the SHA-256 the column holds
    add("""INSERT INTO public.pipeline_stages (tenant_id, name, display_name, order_index)
           SELECT %s, s, initcap(s), o FROM unnest(%s::text[]) WITH ORDINALITY AS x (s, o)""", [t, STAGES])
    add("""INSERT INTO public.deals (id, tenant_id, name, owner_id, team_ids, created_by, value, expected_close_date)
           VALUES (%(deal)s, %(tenant)s, 'Project Falcon', %(user1)s, ARRAY[%(user2)s]::uuid[], %(user1)s, 1000,
                   current_date + 10)""", i)
    add("""INSERT INTO public.deal_team_members (tenant_id, deal_id, user_id, added_by)
           VALUES (%(tenant)s, %(deal)s, %(user2)s, %(user1)s)""", i)
    add("""INSERT INTO public.document_folders (id, tenant_id, deal_id, name, path, created_by)
           VALUES (%(folder)s, %(tenant)s, %(deal)s, 'Financials', '/financials', %(user1)s)""", i)
    add("""INSERT INTO public.documents (id, tenant_id, deal_id, folder_id, name, storage_key, uploaded_by, locked_by)
           VALUES (%(doc)s, %(tenant)s, %(deal)s, %(folder)s, 'Accounts 2024.pdf', %(key)s, %(user1)s, %(user2)s)""",
        {**i, "key": f"tenants/{t}/{tag}/{i['doc']}"})  # under the tenant's prefix (0035's CHECK)
    add("""INSERT INTO public.data_rooms (id, tenant_id, deal_id, name, access_code, created_by)
           VALUES (%(room)s, %(tenant)s, %(deal)s, 'Buyer room', %(code)s, %(user1)s)""",
        {**i, "code": uuid.uuid4().hex[:20]})
    add("""INSERT INTO public.data_room_permissions (tenant_id, data_room_id, user_id, allowed_folders, granted_by)
           VALUES (%(tenant)s, %(room)s, %(user2)s, ARRAY[%(folder)s]::uuid[], %(user1)s)""", i)
    add("""INSERT INTO audit.events (tenant_id, event_type, actor_id, subject_id)
           VALUES (%(tenant)s, 'document_viewed', %(user2)s, %(doc)s)""", i)
    add("""INSERT INTO public.activities (id, tenant_id, deal_id, user_id, type, title, attachments, created_by)
           VALUES (%(activity)s, %(tenant)s, %(deal)s, %(user1)s, 'note', 'Kick-off', ARRAY[%(doc)s]::uuid[],
                   %(user1)s)""", i)
    add("""INSERT INTO public.activities_archive (id, tenant_id, deal_id, type, title, occurred_at)
           VALUES (%(archived)s, %(tenant)s, %(deal)s, 'call', 'Old call', now() - INTERVAL '2 years')""", i)
    add("""INSERT INTO public.tasks (id, tenant_id, deal_id, title, assigned_to) VALUES
           (%(task1)s, %(tenant)s, %(deal)s, 'Collect accounts', %(user2)s)""", i)
    add("""INSERT INTO public.tasks (id, tenant_id, deal_id, title, depends_on)
           VALUES (%(task2)s, %(tenant)s, %(deal)s, 'Review accounts', ARRAY[%(task1)s]::uuid[])""", i)
    add("""INSERT INTO public.ai_analyses (id, tenant_id, deal_id, document_id, type, model, results)
           VALUES (%(analysis)s, %(tenant)s, %(deal)s, %(doc)s, 'risk_assessment', 'model-x', '{}')""", i)
    add("""INSERT INTO public.valuations (id, tenant_id, deal_id, method, base_value, assumptions, comparables)
           VALUES (%(valuation)s, %(tenant)s, %(deal)s, 'dcf', 1000000, '{}', ARRAY[%(deal)s]::uuid[])""", i)
    add("""INSERT INTO timeline.activity_timeline (time, tenant_id, user_id, deal_id, event_type)
           VALUES (now(), %(tenant)s, %(user1)s, %(deal)s, 'deal_viewed')""", i)
    add("""INSERT INTO public.presence (tenant_id, user_id, resource_type, resource_id)
           VALUES (%(tenant)s, %(user1)s, 'document', %(doc)s)""", i)
    add("""INSERT INTO public.comments (id, tenant_id, commentable_type, commentable_id, user_id, content, mentions)
           VALUES (%(comment)s, %(tenant)s, 'deal', %(deal)s, %(user1)s, 'Looks good', ARRAY[%(user2)s]::uuid[])""", i)
    add("""INSERT INTO public.notifications (id, tenant_id, user_id, type, title, resource_type, resource_id)
           VALUES (%(notification)s, %(tenant)s, %(user2)s, 'mention', 'You were mentioned', 'comment',
                   %(comment)s)""", i)
    return rows


# A realistic spread: 50 tenants of 300 deals, 400 documents (40 with embeddings) and 7 weeks of
# timeline each, plus one large tenant (tenant 1) with 3,000 deals and 600 documents, all embedded.
BULK_TENANTS = """
INSERT INTO public.tenants (id, subdomain, company_name)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(t), 12, '0'))::uuid, 'bulk-' || t, 'Bulk ' || t
FROM generate_series(1, 50) AS t"""
BULK_USERS = """
INSERT INTO public.users (tenant_id, clerk_id, email)
SELECT te.id, 'clerk-' || te.subdomain || '-' || u, 'user' || u || '@' || te.subdomain || '.example'
FROM public.tenants AS te, generate_series(1, 10) AS u
WHERE te.subdomain LIKE 'bulk-%'"""
BULK_DEALS = """
INSERT INTO public.deals (tenant_id, name, description, stage, value, probability, expected_close_date, tags,
                          archived_at)
SELECT te.id,
       (ARRAY['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark'])[1 + d % 6] || ' acquisition ' || d,
       'Merger talks in ' || (ARRAY['fintech', 'retail', 'energy', 'health'])[1 + d % 4],
       (ARRAY['prospecting', 'qualification', 'analysis', 'negotiation', 'due_diligence', 'closing',
              'closed_won', 'closed_lost'])[1 + d % 8],
       (d * 37919 % 5000000)::numeric, d % 101, current_date + (d % 120) - 30,
       ARRAY[(ARRAY['tech', 'saas', 'retail', 'b2b'])[1 + d % 4]],
       CASE WHEN d % 10 = 0 THEN now() END
FROM public.tenants AS te,
     generate_series(1, CASE WHEN te.subdomain = 'bulk-1' THEN 3000 ELSE 300 END) AS d
WHERE te.subdomain LIKE 'bulk-%'"""
BULK_DOCUMENTS = """
INSERT INTO public.documents (tenant_id, name, storage_key, ai_summary, embeddings)
SELECT te.id,
       'Report ' || n || ' ' || (ARRAY['board minutes', 'financial statement', 'due diligence memo',
                                       'customer contract', 'tax return'])[1 + n % 5]
           || CASE WHEN n % 97 = 0 THEN ' merger agreement' ELSE '' END,
       'tenants/' || te.id || '/doc/' || n,
       'Summary of the ' || (ARRAY['audit', 'valuation', 'contract', 'lease'])[1 + n % 4],
       CASE WHEN n % 10 = 0 OR te.subdomain = 'bulk-1' THEN
           (SELECT array_agg(random())::real[] FROM generate_series(1, 1536) WHERE n > 0 AND te.id IS NOT NULL)::vector
       END
FROM public.tenants AS te,
     generate_series(1, CASE WHEN te.subdomain = 'bulk-1' THEN 600 ELSE 400 END) AS n
WHERE te.subdomain LIKE 'bulk-%'"""
# Two sessions per user and a data room for every tenth deal: the lookups by token hash and access code.
BULK_SESSIONS = """
INSERT INTO public.user_sessions (tenant_id, user_id, token_hash, expires_at)
SELECT u.tenant_id, u.id, encode(sha256(convert_to(u.id::text || ':' || s, 'UTF8')), 'hex'), now() + INTERVAL '1 day'
FROM public.users AS u, generate_series(1, 2) AS s"""
BULK_DATA_ROOMS = """
INSERT INTO public.data_rooms (tenant_id, deal_id, name, access_code)
SELECT d.tenant_id, d.id, 'Room for ' || d.name, upper(left(md5(d.id::text), 20))
FROM public.deals AS d WHERE d.value::bigint % 10 = 0"""
BULK_TIMELINE = """
INSERT INTO timeline.activity_timeline (time, tenant_id, event_type, value_impacted)
SELECT now() - i * INTERVAL '1 hour', te.id, 'deal_viewed', i
FROM public.tenants AS te, generate_series(1, 49 * 24, 2) AS i
WHERE te.subdomain LIKE 'bulk-%'"""
BULK_TENANT = uuid.UUID("00000000-0000-4000-8000-000000000001")
SMALL_TENANT = uuid.UUID("00000000-0000-4000-8000-000000000007")


def load_bulk(conn: psycopg.Connection) -> None:
    """Load the realistic data set (about 4 s). The embeddings index is built after the load, from
    its own definition, as one would bulk-load: inserting 2,560 vectors of 1,536 dimensions one by
    one into HNSW costs several times more."""
    indexdef = conn.execute("SELECT pg_get_indexdef('public.idx_documents_embeddings'::regclass)").fetchone()[0]
    with conn.transaction():
        for stmt in (BULK_TENANTS, BULK_USERS, BULK_SESSIONS, BULK_DEALS, BULK_DATA_ROOMS):
            conn.execute(stmt)
        conn.execute("DROP INDEX public.idx_documents_embeddings")
        conn.execute(BULK_DOCUMENTS)
        conn.execute(indexdef)
        conn.execute(BULK_TIMELINE)
    conn.execute("VACUUM ANALYZE")


# The last commit of main before the isolation hardening (0016-0018): the schema as databases in the
# field have it, with its own sql/ files (policies that trust app.current_tenant), for the upgrade
# and audit tests. Read from git, so a copy without history skips those tests.
BEFORE_HARDENING = "6a118c0"


def old_project(dest, commit: str = BEFORE_HARDENING):
    """migrations/, sql/ and pyproject.toml of `commit`, exported into `dest`; None when git or the
    commit is not available (a source archive without history)."""
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    try:
        archive = subprocess.run(["git", "-C", str(root), "archive", commit, "migrations", "sql", "pyproject.toml"],
                                 capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest
