"""An attacker's suite: everything a tenant-facing role can reach, enumerated from the catalog and
tried against two seeded tenants.

The threat is the one of migration 0017: SQL injected into the application (or a reporting login)
runs as maplatform_app or maplatform_readonly, with tenant A's verified token set. Nothing here is a
hand-kept list of objects: the relations, functions, settings, indexes and unique constraints are
read from the catalog at run time, so an object a later migration adds is attacked without editing
this file. Tenant B's rows are marked (an unguessable string appended to every text column that
takes it, its ids, its subdomain, the exact times of its timeline events), and every result, error
message, notice and statistics row the role can see is scanned for those marks.

Each test prints what it tried; a failure names what leaked, how, and as which role. Notes (what
is inferable by design, e.g. a duplicate key revealing that a value exists somewhere) are printed,
not failed. Everything a test writes is rolled back.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from dbtool import tenant_token as tokens
from schema_support import (APP, READONLY, base_table, cloned_db, edition, refresh_summaries, seed_tenant,
                            tenant_column, tenant_tables, tenant_token, tenant_views)

ROLES = [APP, READONLY]
BLOCKED = "42501"  # insufficient_privilege: permission denied, or a row-level security violation
TOKEN_RE = re.compile(r"v1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
                      r"\.[0-9]{1,12}\.[a-z0-9_-]{1,32}\.[0-9a-f]{64}")
# The documented oracles (docs/roles.md, "Known limits"): a duplicate key tells a tenant that a value exists.
# Since 0036 only tenants' own keys are global: tenants is the lookup of subdomains and Stripe customers.
DOCUMENTED_GLOBAL_KEYS = {"subdomain", "stripe_customer_id"}
# The keys 0036 made per tenant (docs/deviations.md), each probed by a statement of tenant A's that puts
# the value on one of A's rows: clerk_id, token_hash and access_code are unique within the tenant, and a
# storage key must lie under the writer's tenant's prefix (0035's CHECK), which no key of B's does.
FORMERLY_GLOBAL_KEYS = {"public.users": "clerk_id", "public.user_sessions": "token_hash",
                        "public.data_rooms": "access_code", "public.documents": "storage_key"}


# --- the two tenants ------------------------------------------------------------------------------

@dataclass
class World:
    url: str
    a: dict
    b: dict
    secret: str                       # appended to tenant B's text columns
    markers: dict[str, str]           # strings only tenant B's data holds: what each is
    relations: list[str]              # tenant tables (as `dbtool check rls` finds them) and tenant views
    base_tables: list[str]            # where a superuser counts each tenant's rows
    token_a: str
    token_b: str                      # the victim's token: tests that steal it must not be handed it
    edition: str
    marked: list[str]                 # the text columns that took the mark


def _ident(name: str) -> sql.Composable:
    return sql.Identifier(*name.split(".")) if "." in name else sql.Identifier(name)


def _mark_text_columns(conn, tables: list[str], tenant, secret: str) -> list[str]:
    """Append `secret` to every text column of `tenant`'s rows that accepts it (constraints, triggers
    and lengths decide; a refusal just leaves that column unmarked). Returns the marked columns."""
    marked = []
    cols = conn.execute("""SELECT format('%%I.%%I', n.nspname, c.relname), a.attname FROM pg_attribute a
                           JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE a.attrelid = ANY(%s::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped
                             AND a.attgenerated = '' AND a.atttypid IN ('text'::regtype, 'varchar'::regtype)
                           ORDER BY 1, a.attnum""", [tables]).fetchall()
    for table, column in cols:
        try:
            with conn.transaction():
                stmt = sql.SQL("UPDATE {t} SET {c} = {c} || ' ' || %s WHERE {k} = %s AND {c} IS NOT NULL").format(
                    t=_ident(table), c=sql.Identifier(column), k=sql.Identifier(tenant_column(table)))
                cur = conn.execute(stmt, [secret, tenant])
                if cur.rowcount:
                    marked.append(f"{table}.{column}")
        except psycopg.Error:
            pass
    return marked


@pytest.fixture(scope="module")
def world(server):
    with cloned_db(server, "attacks") as url:
        # CREATE DATABASE ... TEMPLATE copies no database ACL, and conftest copies grants only: what the
        # migrations took from PUBLIC on the database (TEMPORARY, CONNECT) is taken on the clone too.
        with server.admin() as c:
            for privilege in ("TEMPORARY", "CONNECT"):
                if not c.execute("SELECT has_database_privilege('public', %s, %s)",
                                 [server.template, privilege]).fetchone()[0]:
                    c.execute(sql.SQL("REVOKE {} ON DATABASE {} FROM PUBLIC").format(
                        sql.SQL(privilege), sql.Identifier(url.rsplit("/", 1)[1])))
        with psycopg.connect(url, autocommit=True) as c:
            tables = tenant_tables(c)
            a, b = seed_tenant(c, "tenant-a", tables), seed_tenant(c, "tenant-b", tables)
            secret = "bsecret" + uuid.uuid4().hex[:16]
            marked = _mark_text_columns(c, tables, b["tenant"], secret)
            # Older timeline events, A's first so that no chunk is created by B's write (a chunk's
            # creation_time is the writing transaction's timestamp: see the notes of the report).
            for who in (a, b):
                c.execute("""INSERT INTO timeline.activity_timeline (time, tenant_id, user_id, deal_id, event_type,
                                                                     value_impacted)
                             SELECT now() - i * INTERVAL '1 day', %(tenant)s, %(user1)s, %(deal)s, 'deal_viewed', i
                             FROM unnest(ARRAY[3, 10, 17, 24, 31, 38]) AS i""", who)
            refresh_summaries(c)
            if edition(c) == "timescale":
                job = c.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'"
                                ).fetchone()[0]
                c.execute("CALL run_job(%s)", [job])
            # A late write of B's into the already summarised past, as a backfill or correction would be.
            c.execute("""INSERT INTO timeline.activity_timeline (time, tenant_id, user_id, deal_id, event_type)
                         VALUES (now() - INTERVAL '17 days' + INTERVAL '1.234567 seconds', %(tenant)s, %(user1)s,
                                 %(deal)s, 'deal_viewed')""", b)
            c.execute("ANALYZE")
            token_a, token_b = tenant_token(c, a["tenant"]), tenant_token(c, b["tenant"])
            times = c.execute("""SELECT regexp_replace(time::text, '[+-][0-9:]+$', ''),
                                        ((extract(EPOCH FROM time) * 1000000)::BIGINT)::TEXT
                                 FROM timeline.activity_timeline WHERE tenant_id = %s""", [b["tenant"]]).fetchall()
            markers = {str(v): f"B's {k} id" for k, v in b.items()}
            markers.update({"tenant-b": "B's subdomain", secret: "the mark on B's text columns"})
            for text, micros in times:
                markers.update({text: "the time of a timeline event of B's",
                                micros: "the time of a timeline event of B's, in TimescaleDB's microseconds"})
            relations = tables + tenant_views(c)
            bases = sorted({base_table(c, r) for r in relations})
            w = World(url, a, b, secret, markers, relations, bases, token_a, token_b, edition(c), marked)
        yield w


@pytest.fixture
def conn(world, conn_to):
    c = conn_to(world.url)
    c.prepare_threshold = None  # psycopg's own prepared statements would be deallocated with ours (EXPLAIN test)
    c.notices = []
    c.add_notice_handler(lambda d: c.notices.append(d.message_primary or ""))
    return c


# --- acting as a role -----------------------------------------------------------------------------

@contextmanager
def as_role(conn, role: str, token: str | None = None):
    """One rolled-back transaction as `role` (SET ROLE, as a pooler's login would), with `token` set by
    set_tenant_context when given; statements time out after 3 s and wait at most 0.5 s for a lock."""
    with conn.transaction(force_rollback=True):
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        conn.execute("SET LOCAL statement_timeout = '3s'")
        conn.execute("SET LOCAL lock_timeout = '500ms'")
        if token is not None:
            conn.execute("SELECT public.set_tenant_context(%s)", [token])
        yield conn


@contextmanager
def as_superuser(conn, role: str):
    """Inside as_role: the session's own (superuser) role for a moment, then `role` again."""
    conn.execute("RESET ROLE")
    try:
        yield conn
    finally:
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))


def run(conn, stmt, params=None) -> tuple[list | None, psycopg.Error | None]:
    """One statement in a savepoint kept on success: (rows or [] , None) or (None, the error)."""
    try:
        with conn.transaction():
            cur = conn.execute(stmt, params)
            return (cur.fetchall() if cur.description else [cur.rowcount]), None
    except psycopg.Error as exc:
        if conn.broken or conn.closed:  # the server went away: not an answer to the statement
            raise
        return None, exc


def error_text(exc: psycopg.Error) -> str:
    d = exc.diag
    return " | ".join(filter(None, [d.message_primary, d.message_detail, d.message_hint, d.context]))


def leaked(text: str, world: World, passed: str = "") -> list[str]:
    """Tenant B's marks in `text`, leaving out those the caller passed in itself (`passed`), and any
    tenant token that is not tenant A's."""
    found = [f"{m} ({what})" for m, what in world.markers.items() if m in text and m not in passed]
    found += [f"token of tenant {t}" for t in TOKEN_RE.findall(text) if t != str(world.a["tenant"]) and t not in passed]
    return found


def like_patterns(world: World) -> list[str]:
    return ["%" + m.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for m in world.markers]


# --- what the catalog offers a role ---------------------------------------------------------------

REACHABLE_RELATIONS = """
SELECT c.oid::regclass::text AS name, c.relkind,
       has_table_privilege(%(role)s, c.oid, 'SELECT') OR has_any_column_privilege(%(role)s, c.oid, 'SELECT')
           OR (c.relkind = 'S' AND has_sequence_privilege(%(role)s, c.oid, 'SELECT, USAGE')) AS can_read,
       has_table_privilege(%(role)s, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
           OR has_any_column_privilege(%(role)s, c.oid, 'INSERT, UPDATE')
           OR (c.relkind = 'S' AND has_sequence_privilege(%(role)s, c.oid, 'UPDATE, USAGE')) AS can_write,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
               AND NOT a.attisdropped) OR c.oid = 'public.tenants'::regclass AS holds_tenants
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  AND (has_table_privilege(%(role)s, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
       OR has_any_column_privilege(%(role)s, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
       OR (c.relkind = 'S' AND has_sequence_privilege(%(role)s, c.oid, 'SELECT, USAGE, UPDATE'))
       -- and every relation holding tenant rows, reachable or not: private tables, chunks, compressed
       -- chunks, the continuous aggregate's materialization, materialized views
       OR (n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND (c.oid = 'public.tenants'::regclass OR EXISTS (
               SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))))
ORDER BY 1"""


def reachable_relations(conn, role: str) -> list[tuple[str, str, bool, bool, bool]]:
    return conn.execute(REACHABLE_RELATIONS, {"role": role}).fetchall()


def b_fingerprint(conn, world: World) -> dict[str, tuple[int, str]]:
    """Tenant B's rows in every table holding tenant data: count and a digest of their contents."""
    parts = [sql.SQL("SELECT {n}, count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                     "FROM {t} AS t WHERE {k} = %(b)s").format(n=sql.Literal(t), t=_ident(t),
                                                                k=sql.Identifier(tenant_column(t)))
             for t in world.base_tables]
    rows = conn.execute(sql.SQL(" UNION ALL ").join(parts), {"b": world.b["tenant"]}).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


PRIVILEGE_STATE = """
SELECT jsonb_build_object(
  'roles', (SELECT jsonb_agg(jsonb_build_array(rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb,
                                               rolcanlogin, rolreplication, rolbypassrls, rolconnlimit,
                                               md5(coalesce(rolpassword, '')), rolvaliduntil) ORDER BY rolname)
            FROM pg_authid WHERE rolname = ANY(%(roles)s)),
  'memberships', (SELECT jsonb_agg(jsonb_build_array(roleid::regrole::text, member::regrole::text, admin_option)
                                   ORDER BY 1, 2)
                  FROM pg_auth_members WHERE member IN (SELECT oid FROM pg_roles WHERE rolname = ANY(%(roles)s))
                     OR roleid IN (SELECT oid FROM pg_roles WHERE rolname = ANY(%(roles)s))),
  'settings', (SELECT jsonb_agg(jsonb_build_array(setdatabase, setrole, setconfig) ORDER BY setdatabase, setrole)
               FROM pg_db_role_setting),
  'owned', (SELECT count(*) FROM pg_class WHERE relowner::regrole::text = ANY(%(roles)s))
           + (SELECT count(*) FROM pg_proc WHERE proowner::regrole::text = ANY(%(roles)s))
           + (SELECT count(*) FROM pg_namespace WHERE nspowner::regrole::text = ANY(%(roles)s))
           + (SELECT count(*) FROM pg_type WHERE typowner::regrole::text = ANY(%(roles)s)),
  'granted_by', (SELECT count(*) FROM pg_class, aclexplode(relacl) AS x
                 WHERE x.grantor::regrole::text = ANY(%(roles)s)),
  'jobs', (SELECT jsonb_agg(jsonb_build_array(id, owner::text, proc_schema, proc_name, scheduled) ORDER BY id)
           FROM _timescaledb_config.bgw_job),
  'keys', (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY key_id), '')) FROM app_private.tenant_keys AS t),
  'tokens_of_b', (SELECT count(*) FROM app.tenant_tokens WHERE tenant_id = %(b)s)
)"""


def privilege_state(conn, world: World) -> dict:
    return conn.execute(PRIVILEGE_STATE, {"roles": ROLES, "b": world.b["tenant"]}).fetchone()[0]


def diff(before: dict, after: dict) -> dict:
    return {k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)}


def print_report(title: str, lines) -> None:
    lines = list(lines)
    print(f"\n== {title} ({len(lines)})")
    for line in lines:
        print("  " + str(line))


# --- relations ------------------------------------------------------------------------------------

def _copy_of_row(conn, relation: str, tenant) -> tuple[sql.Composed, dict] | None:
    """An INSERT into `relation` of a copy of one of `tenant`'s rows (new id), read as the superuser."""
    base = base_table(conn, relation)
    cols = [r[0] for r in conn.execute("""SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0
                                          AND NOT attisdropped AND attgenerated = '' ORDER BY attnum""", [relation])]
    row = conn.execute(sql.SQL("SELECT to_jsonb(t) FROM {} AS t WHERE {} = %s LIMIT 1").format(
        _ident(base), sql.Identifier(tenant_column(base))), [tenant]).fetchone()
    if row is None:
        return None
    row = row[0]
    if "id" in row and tenant_column(base) != "id":
        row["id"] = str(uuid.uuid4())
    columns = sql.SQL(", ").join(map(sql.Identifier, cols))
    return sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM jsonb_populate_record(NULL::{t}, %s::jsonb)").format(
        t=_ident(relation), c=columns), row


def _attack_relations(conn, world: World, role: str, token: str | None):
    """SELECT every reachable relation looking for B's marks, and try every write the privileges allow,
    each relation's writes in a savepoint rolled back after B's rows were compared (as the superuser)
    with what they were before. Returns (report lines, leaks)."""
    relations = reachable_relations(conn, role)
    patterns = like_patterns(world)
    b = world.b["tenant"]
    inserts = {r[0]: _copy_of_row(conn, r[0], b) for r in relations if r[3] and r[4] and r[1] in "rpvf"}
    before = b_fingerprint(conn, world)
    report, leaks = [], []
    with as_role(conn, role, token):
        for name, kind, can_read, can_write, holds in relations:
            rows, err = run(conn, sql.SQL("SELECT left(t::text, 300) FROM {} AS t WHERE t::text LIKE ANY(%s) LIMIT 3"
                                          ).format(_ident(name)), [patterns])
            outcome = {"read": err.sqlstate if err else len(rows)}
            if err is not None and err.sqlstate != BLOCKED:
                outcome["read_error"] = error_text(err)[:120]
                if leaked(error_text(err), world):
                    leaks.append((name, "error message", leaked(error_text(err), world)))
            if rows:
                leaks.append((f"{role} with {'A' if token else 'no'} token: SELECT * FROM {name}",
                              f"B's marks {sorted({m for r in rows for m in leaked(r[0], world)})} in",
                              [r[0] for r in rows]))
            if can_read and kind in "rpm":
                text, err = copy_out(conn, name)
                outcome["copy_to"] = err.sqlstate if err else len(text)
                if err is None and leaked(text, world):
                    leaks.append((f"{role}: COPY {name} TO STDOUT", leaked(text, world)))
            if holds and can_read and token is None:
                n, e = run(conn, sql.SQL("SELECT count(*) FROM {}").format(_ident(name)))
                outcome["rows_without_tenant"] = e.sqlstate if e else n[0][0]
                if n and n[0][0]:
                    leaks.append((name, "rows without a tenant", n[0][0]))
            if can_write:
                with conn.transaction(force_rollback=True):
                    outcome.update(_attack_writes(conn, world, name, kind, holds, inserts.get(name), token, leaks))
                    with as_superuser(conn, role):
                        changed = diff(before, b_fingerprint(conn, world))
                if changed:
                    leaks.append((name, "tenant B's rows changed by these writes", changed))
            report.append(f"{name:62} {kind} {outcome}")
    return report, leaks


def copy_out(conn, relation: str) -> tuple[str, psycopg.Error | None]:
    """COPY relation TO STDOUT (row-level security applies to it as to SELECT), in a savepoint."""
    try:
        with conn.transaction():
            with conn.cursor().copy(sql.SQL("COPY {} TO STDOUT").format(_ident(relation))) as copy:
                return b"".join(bytes(chunk) for chunk in copy).decode(errors="replace"), None
    except psycopg.Error as exc:
        if conn.broken or conn.closed:
            raise
        return "", exc


def copy_in(conn, relation: str, row: dict) -> psycopg.Error | None:
    """COPY relation FROM STDIN with one row (B's copy), in a savepoint: the error, or None."""
    try:
        with conn.transaction():
            cols = list(row)
            with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                    _ident(relation), sql.SQL(", ").join(map(sql.Identifier, cols)))) as copy:
                copy.write_row([json.dumps(row[c]) if isinstance(row[c], (dict, list)) else row[c] for c in cols])
        return None
    except psycopg.Error as exc:
        if conn.broken or conn.closed:
            raise
        return exc


def _attack_writes(conn, world, name, kind, holds, insert, token, leaks) -> dict:
    b = world.b["tenant"]
    out = {}
    if kind == "S":
        _, err = run(conn, sql.SQL("SELECT nextval({})").format(sql.Literal(name)))
        out["nextval"] = err.sqlstate if err else "ALLOWED"
        return out
    if not holds:
        # A relation without tenant rows that the role may write (pg_settings is SET, and refuses
        # DELETE): nothing else is expected, so a write that works is a finding.
        rows, err = run(conn, sql.SQL("DELETE FROM {}").format(_ident(name)))
        out["delete_all"] = err.sqlstate if err else f"ALLOWED ({rows[0]})"
        if err is None:
            leaks.append((name, "a tenant-facing role deleted from a relation outside the tenant tables", rows[0]))
        return out
    col = sql.Identifier(tenant_column(base_table(conn, name)) if kind != "v" else "tenant_id")
    t = _ident(name)
    if insert is not None:
        stmt, row = insert
        _, err = run(conn, stmt, [json.dumps(row)])
        out["insert_b"] = err.sqlstate if err else "ALLOWED"
        if err is None:
            leaks.append((name, "inserted a row for tenant B", row.get("id")))
        if kind in "rp":
            generated = {r[0] for r in conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                                                    "AND attgenerated <> ''", [name])}
            err = copy_in(conn, name, {k: v for k, v in row.items() if not isinstance(v, list) and k not in generated})
            out["copy_in_b"] = err.sqlstate if err else "ALLOWED"
            if err is None:
                leaks.append((name, "COPY FROM wrote a row for tenant B", row.get("id")))
    for label, stmt, params in (
            ("update_b", sql.SQL("UPDATE {t} SET {c} = {c} WHERE {c} = %s").format(t=t, c=col), [b]),
            ("delete_b", sql.SQL("DELETE FROM {t} WHERE {c} = %s").format(t=t, c=col), [b]),
            ("move_to_b", sql.SQL("UPDATE {t} SET {c} = %s").format(t=t, c=col), [b]),
            ("update_all", sql.SQL("UPDATE {t} SET {c} = {c}").format(t=t, c=col), None),
            ("delete_all", sql.SQL("DELETE FROM {t}").format(t=t), None),
            ("truncate", sql.SQL("TRUNCATE {t}").format(t=t), None)):
        rows, err = run(conn, stmt, params)
        out[label] = err.sqlstate if err else rows[0]
        if label in ("update_b", "delete_b") and err is None and rows[0]:
            leaks.append((name, label, rows[0]))
        if label == "move_to_b" and err is None and rows[0]:
            leaks.append((name, "moved rows into tenant B", rows[0]))
        if label == "truncate" and err is None:
            leaks.append((name, "TRUNCATE allowed", "every tenant's rows"))
        if token is None and label in ("update_all", "delete_all") and err is None and rows[0]:
            leaks.append((name, f"{label} without a tenant", rows[0]))
    return out


@pytest.mark.parametrize("role", ROLES)
def test_every_relation_the_role_reaches_gives_no_row_of_tenant_b_and_takes_no_write_to_it(conn, world, role):
    """Every relation in every schema the role holds any privilege on, and every relation holding
    tenant rows (tables, views, the private hypertable, its chunks and compressed chunks, the
    continuous aggregate's materialization, materialized views): SELECT finds none of B's marks
    (permission errors are fine); INSERT a copy of B's row, UPDATE/DELETE B's rows, move A's rows
    to B, UPDATE/DELETE/TRUNCATE everything visible: refused or 0 of B's rows; B's rows are the same
    afterwards (checked as the superuser)."""
    report, leaks = _attack_relations(conn, world, role, world.token_a)
    print(f"\ntenant B's marks: {world.secret!r} appended to {', '.join(world.marked)}; its ids, subdomain and "
          f"timeline times ({len(world.markers)} marks in all)")
    print_report(f"{role} with tenant A's token: relations (read = rows with B's marks or SQLSTATE)", report)
    assert len(report) > 50, "the catalog offered suspiciously few relations"
    assert leaks == [], "\n".join(map(str, leaks))


@pytest.mark.parametrize("role", ROLES)
def test_without_a_tenant_the_role_reads_and_writes_no_tenant_row_anywhere(conn, world, role):
    """The same sweep with no token set: every relation holding tenant rows shows 0 rows (of any tenant),
    and no write touches a row."""
    report, leaks = _attack_relations(conn, world, role, None)
    print_report(f"{role} without a tenant: relations", report)
    assert leaks == [], "\n".join(map(str, leaks))


# --- statistics -----------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_no_statistics_of_a_relation_holding_tenant_rows_are_visible_to_the_role(conn, world, role):
    """pg_stats, pg_stats_ext and pg_stats_ext_exprs show a role the statistics of the columns it may
    read of relations without active row-level security: no such row may describe a relation that
    holds tenant rows, and none may carry B's values; the catalogs behind them are closed."""
    holding = {r[0] for r in conn.execute("""
        SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = 'public.tenants'::regclass OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                                                              AND a.attname = 'tenant_id' AND NOT a.attisdropped)""")}
    patterns = like_patterns(world)
    # The statistics exist (as the superuser sees them), so an empty answer below means something.
    as_su = conn.execute("SELECT count(*) FROM pg_stats WHERE concat(most_common_vals::text, histogram_bounds::text, "
                         "most_common_elems::text) LIKE ANY(%s)", [patterns]).fetchone()[0]
    assert as_su > 0, "ANALYZE left no statistics holding tenant B's values: the test would prove nothing"
    seen, leaks = [], []
    with as_role(conn, role, world.token_a):
        for view in ("pg_stats", "pg_stats_ext", "pg_stats_ext_exprs"):
            rows = conn.execute(sql.SQL("SELECT format('%I.%I', schemaname, tablename), t::text FROM {} AS t").format(
                sql.Identifier("pg_catalog", view))).fetchall()
            for rel, text in rows:
                if rel in holding:
                    leaks.append((view, rel, "statistics of a relation holding tenant rows"))
                if leaked(text, world):
                    leaks.append((view, rel, leaked(text, world)))
            seen.append(f"{view}: {len(rows)} rows visible")
        for catalog in ("pg_statistic", "pg_statistic_ext_data"):
            _, err = run(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("pg_catalog", catalog)))
            seen.append(f"{catalog}: {err.sqlstate if err else 'READABLE'}")
            if err is None or err.sqlstate != BLOCKED:
                leaks.append((catalog, "readable", err))
    print_report(f"{role}: statistics ({as_su} pg_stats rows hold B's values, as the superuser sees them)", seen)
    assert leaks == [], "\n".join(map(str, leaks))


# --- functions ------------------------------------------------------------------------------------

EXECUTABLE = """
SELECT p.oid, p.oid::regprocedure::text, p.prokind, p.prosecdef, p.provariadic <> 0,
       ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) AS t) AS args,
       format_type(p.prorettype, NULL), n.nspname,
       EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
               AND d.deptype = 'e') AS in_extension, p.proconfig IS NOT NULL AS fixed_path
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND p.prokind IN ('f', 'p')
  AND has_function_privilege(%s, p.oid, 'EXECUTE')
  -- type I/O and other pure functions: immutable and running as the caller
  AND (p.provolatile <> 'i' OR p.prosecdef)
ORDER BY 2"""
UNCALLABLE = {"internal", "cstring", "trigger", "event_trigger", "language_handler", "fdw_handler",
              "index_am_handler", "tsm_handler", "table_am_handler", "opaque", "record", "anyarray",
              "anycompatiblearray", "anyrange", "anymultirange", "anycompatiblerange", "anycompatiblemultirange"}
MAX_CALLS = 48


class Arguments:
    """Plausible arguments by type, aimed at tenant B: its ids, names and marks; every relation that holds
    tenant rows (tables, views, the hypertable, chunks, compressed chunks, the continuous aggregate's
    materialization); the jobs, the roles, the privileged functions."""

    def __init__(self, conn, world: World):
        b = world.b
        self.world = world
        rels = conn.execute("""
            SELECT c.oid::regclass::text, n.nspname, c.relname, c.oid FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname !~ '^pg_' AND (c.oid = 'public.tenants'::regclass OR EXISTS (
                  SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'))
            ORDER BY c.relkind <> 'r', n.nspname ~ '_chunks$|^_timescaledb', 1""").fetchall()
        # every table and view, and a few chunks, compressed chunks and internal relations of each kind
        picked, per_kind = [], {}
        for r in rels:
            kind = re.sub(r"[0-9]+", "N", r[2])
            per_kind[kind] = per_kind.get(kind, 0) + 1
            if per_kind[kind] <= 2:
                picked.append(r)
        self.relations = picked
        jobs = [str(r[0]) for r in conn.execute("SELECT id FROM _timescaledb_config.bgw_job ORDER BY id")]
        dims = conn.execute("SELECT atttypmod FROM pg_attribute WHERE attrelid = 'public.documents'::regclass "
                            "AND attname = 'embeddings'").fetchone()
        q = lambda v: sql.Literal(str(v)).as_string(conn)  # noqa: E731
        forged = f"v1.{b['tenant']}.9999999999.test.{'0' * 64}"
        self.by_type = {
            "uuid": [f"{q(v)}::uuid" for v in b.values()],
            "text": [q(v) for v in ("tenant-b", world.secret, b["tenant"], forged, "timeline.activity_timeline")],
            "name": [q(v) for v in ("tenant-b", "timeline", "activity_timeline", world.secret)],
            "integer": jobs + ["1", "0", "-1"],
            "bigint": ["1", "0"], "smallint": ["1"],
            "boolean": ["true", "false"],
            "interval": ["'1 second'::interval", "'100 years'::interval"],
            "timestamp with time zone": ["now() + '100 years'::interval", "'-infinity'::timestamptz"],
            "timestamp without time zone": ["localtimestamp + '100 years'::interval"],
            "date": ["current_date + 36500"],
            "jsonb": ["'{}'::jsonb", f"{q(json.dumps({'tenant_id': str(b['tenant'])}))}::jsonb"],
            "json": ["'{}'::json"],
            "bytea": ["'\\x00'::bytea", f"decode({q(hashlib.sha256(b'x').hexdigest())}, 'hex')"],
            "regclass": [f"{q(r[0])}::regclass" for r in picked],
            "oid": [f"{r[3]}::oid" for r in picked],
            "regproc": ["'ops.refresh_pipeline_analytics'::regproc", "'app.mint_tenant_token'::regproc"],
            "regprocedure": ["'ops.refresh_pipeline_analytics()'::regprocedure",
                             "'app.mint_tenant_token(uuid,interval,text)'::regprocedure"],
            "regrole": ["'maplatform_owner'::regrole", "'maplatform_maintenance'::regrole", f"{q(APP)}::regrole"],
            "regtype": ["'uuid'::regtype"],
            "real": ["0::real", "1::real"], "double precision": ["0::float8", "1::float8"],
            "numeric": ["0::numeric"],
            "vector": [f"array_fill(0.1, ARRAY[{dims[0] if dims and dims[0] > 0 else 3}])::real[]::vector"],
            '"any"': ["now() + '100 years'::interval", "'1 second'::interval", "'-infinity'::timestamptz"],
            "anyelement": ["'1 day'::interval", "now()"],
            "anynonarray": ["'1 day'::interval"], "anycompatible": ["'1 day'::interval"],
        }

    def candidates(self, typ: str) -> list[str]:
        if typ in self.by_type:
            return self.by_type[typ]
        if typ in ("character varying", "character", "citext"):
            return [f"{v}::{typ}" for v in self.by_type["text"]]
        if typ.endswith("[]"):
            return [f"ARRAY[{v}]::{typ}" for v in self.candidates(typ[:-2])[:3]]
        return [f"NULL::{typ}"]

    def combos(self, args: list[str]) -> list[list[str]]:
        """The first candidate of each argument; then each argument through its candidates, the others
        fixed; then each tenant relation in every relation-naming argument at once (regclass, oid, a
        (schema, name) pair of name arguments)."""
        if not args:
            return [[]]
        base = [self.candidates(t)[0] for t in args]
        out = [base]
        for i, typ in enumerate(args):
            for c in self.candidates(typ)[1:]:
                combo = list(base)
                combo[i] = c
                # the polymorphic arguments of one call have one type
                if typ in ("anyelement", "anycompatible", "anynonarray"):
                    combo = [c if args[j] == typ else v for j, v in enumerate(combo)]
                out.append(combo)
        names = [i for i, t in enumerate(args) if t == "name"]
        if any(t in ("regclass", "oid") for t in args) or len(names) >= 1:
            for _, schema, rel, oid in self.relations:
                combo = list(base)
                for i, t in enumerate(args):
                    if t == "regclass":
                        combo[i] = f"{oid}::oid::regclass"
                    elif t == "oid":
                        combo[i] = f"{oid}::oid"
                if len(names) >= 2:
                    combo[names[0]], combo[names[1]] = (sql.Literal(schema).as_string(None) + "::name",
                                                        sql.Literal(rel).as_string(None) + "::name")
                elif names:
                    combo[names[0]] = sql.Literal(rel).as_string(None) + "::name"
                out.append(combo)
        seen, unique = set(), []
        for c in out:
            if tuple(c) not in seen:
                seen.add(tuple(c))
                unique.append(c)
        return unique[:MAX_CALLS]


def _call(name: str, kind: str, variadic: bool, combo: list[str]) -> str:
    args = list(combo)
    if variadic and args:
        args[-1] = "VARIADIC " + args[-1]
    call = f"{name.split('(')[0]}({', '.join(args)})"
    return f"CALL {call}" if kind == "p" else f"SELECT ({call})::text"


def _qualified(conn, oid) -> str:
    return conn.execute("SELECT format('%%I.%%I', n.nspname, p.proname) FROM pg_proc p "
                        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = %s", [oid]).fetchone()[0]


def _reconnect(url: str, timeout: float = 60) -> psycopg.Connection:
    """A new connection once the server accepts them again (after a crash it restarts every backend)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            c = psycopg.connect(url, autocommit=True)
            c.notices = []
            c.add_notice_handler(lambda d: c.notices.append(d.message_primary or ""))
            return c
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _attack_functions(conn, world: World, role: str):
    """Each function in its own rolled-back transaction as `role` with A's token, each call in a
    savepoint; a call that kills the server is recorded and the sweep goes on with a new connection."""
    functions = conn.execute(EXECUTABLE, [role]).fetchall()
    gen = Arguments(conn, world)
    base_rows, base_state = b_fingerprint(conn, world), privilege_state(conn, world)
    report, leaks, calls, own = [], [], 0, []
    try:
        for oid, signature, kind, secdef, variadic, args, rettype, schema, _, _ in functions:
            if UNCALLABLE & set(args) or rettype in UNCALLABLE - {"record"}:
                report.append(f"{signature}: skipped (takes or returns {sorted(UNCALLABLE & set(args + [rettype]))})")
                continue
            name = _qualified(conn, oid)
            outcomes, ok, stmt = {}, 0, ""
            try:
                with as_role(conn, role, world.token_a):
                    for combo in gen.combos(args):
                        stmt = _call(name, kind, variadic, combo)
                        calls += 1
                        rows, err = run(conn, stmt)
                        if err is None:
                            ok += 1
                            text = "\n".join(str(r[0]) for r in rows) if rows and kind != "p" else ""
                            found = leaked(text, world, passed=stmt)
                            if found:
                                leaks.append((role, stmt, "returned", found, text[:300]))
                            outcomes["ok"] = outcomes.get("ok", 0) + 1
                        else:
                            outcomes[err.sqlstate] = outcomes.get(err.sqlstate, 0) + 1
                            found = leaked(error_text(err), world, passed=stmt)
                            if found:
                                leaks.append((role, stmt, "error text", found, error_text(err)[:300]))
                            if err.sqlstate == "57014":  # statement_timeout: say so, it may hide a slow leak
                                report.append(f"{signature}: timed out on {stmt[:200]}")
                    if ok:
                        visible = conn.execute("SELECT array_agg(id) FROM public.tenants").fetchone()[0] or []
                        if world.b["tenant"] in visible:
                            leaks.append((role, signature, "made tenant B's rows visible", visible))
                        with as_superuser(conn, role):
                            changed = diff(base_rows, b_fingerprint(conn, world))
                            escalated = diff(base_state, privilege_state(conn, world))
                        if changed:
                            leaks.append((role, signature, "changed tenant B's rows", changed))
                        if escalated:
                            leaks.append((role, signature, "changed roles, grants, keys or jobs", escalated))
            except psycopg.Error as exc:
                if not conn.closed and not conn.broken:
                    raise
                leaks.append((role, stmt, "killed the server: every tenant's connections and transactions are lost",
                              str(exc).splitlines()[0]))
                conn = _reconnect(world.url)
                own.append(conn)
                outcomes["SERVER CRASH"] = 1
            report.append(f"{signature}{' SECURITY DEFINER' if secdef else ''}: {outcomes}")
    finally:
        for c in own:
            c.close()
    return functions, report, leaks, calls


@pytest.mark.parametrize("role", ROLES)
def test_no_function_the_role_may_execute_returns_or_changes_tenant_b_or_escalates(conn, world, role):
    """Every function and procedure outside pg_catalog and information_schema that the role may
    EXECUTE (extensions' included: TimescaleDB's public and internal schemas, pgcrypto, pg_trgm,
    vector, pg_stat_statements, uuid-ossp; and SECURITY DEFINER ones), except pure immutable ones
    running as the caller (type I/O), called with up to 48 argument combinations aimed at tenant B,
    as the role with tenant A's token, each call in a savepoint. No result or error may carry B's
    marks (beyond what the call passed in) or a token of another tenant; afterwards B's rows,
    tokens, the signing keys, the roles' attributes, memberships, settings, ownerships and grants,
    and TimescaleDB's jobs are unchanged (checked as the superuser), and the role sees only A."""
    started = time.monotonic()
    functions, report, leaks, calls = _attack_functions(conn, world, role)
    print_report(f"{role}: {len(functions)} executable functions, {calls} calls in {time.monotonic() - started:.1f} s "
                 "(SQLSTATE counts)", report)
    assert len(functions) > 50, "the catalog offered suspiciously few functions"
    assert leaks == [], "\n".join(map(str, leaks))


# --- forging the tenant context -------------------------------------------------------------------

def _secret(conn, key_id: str = "test") -> bytes:
    return bytes(conn.execute("SELECT secret FROM app_private.tenant_keys WHERE key_id = %s", [key_id]).fetchone()[0])


def _b_rows_everywhere(conn, world: World) -> dict[str, int | str]:
    """As the current role: the rows of each tenant relation it can see (any tenant), or the SQLSTATE."""
    seen = {}
    for rel in world.relations:
        rows, err = run(conn, sql.SQL("SELECT count(*) FROM {}").format(_ident(rel)))
        seen[rel] = err.sqlstate if err else rows[0][0]
    return seen


def _forgeries(conn, world: World) -> dict[str, tuple[str, str]]:
    """name: (token, the SQLSTATE set_tenant_context must raise). Each aims at tenant B."""
    b = str(world.b["tenant"])
    real = _secret(conn)
    now = time.time()
    good_b = tokens.mint(real, "test", b)  # what the attacker does not have: the shape to alter
    head, sig = good_b.rsplit(".", 1)
    good_a = world.token_a
    parts_a = good_a.split(".")
    guessed = [b"\0" * 32, b"test" * 8, b"secret".ljust(32, b"\0"), hashlib.sha256(b"test").digest(),
               hashlib.sha256(b"maplatform").digest(), b"test".ljust(32, b" ")]
    out = {
        "signature of zeros": (f"{head}.{'0' * 64}", "28T02"),
        "A's signature on B's body": (f"v1.{b}.{parts_a[2]}.{parts_a[3]}.{parts_a[4]}", "28T02"),
        "A's token, expiry pushed back": (".".join(parts_a[:2] + [str(int(parts_a[2]) + 3600)] + parts_a[3:]), "28T02"),
        "a key id nobody has": (tokens.mint(b"x" * 32, "attacker", b), "28T04"),
        "expired, correctly signed": (tokens.mint(real, "test", b, ttl=60, now=now - 7200), "28T03"),
        "truncated signature": (good_b[:-1], "28T01"),
        "four parts": (head, "28T01"),
        "upper-case signature": (f"{head}.{sig.upper()}", "28T01"),
        "trailing newline": (good_b + "\n", "28T01"),
        "v2": ("v2" + good_b[2:], "28T01"),
        "uuid in braces": (f"v1.{{{b}}}.{parts_a[2]}.test.{sig}", "28T01"),
        "empty key id": (f"v1.{b}.{parts_a[2]}..{sig}", "28T01"),
        "SQL in the key id": (f"v1.{b}.{parts_a[2]}.test' OR '1'='1.{sig}", "28T01"),
    }
    for i, secret in enumerate(guessed):
        out[f"guessed secret #{i + 1}"] = (tokens.mint(secret, "test", b), "28T02")
    return out


@pytest.mark.parametrize("role", ROLES)
def test_forged_tokens_are_refused_each_with_its_error_and_reach_no_tenant(conn, world, role):
    """set_tenant_context with a token for B that is forged, guessed, altered, expired, signed with an
    unknown key, truncated or malformed: its own SQLSTATE (28T01-28T04) and a message holding no
    secret and no correct signature; then the same token put straight into app.tenant_token with
    set_config(): every tenant relation shows 0 rows (of any tenant) and writes are refused."""
    real_b = tokens.mint(_secret(conn), "test", world.b["tenant"])
    problems, report = [], []
    for label, (token, expected) in _forgeries(conn, world).items():
        with as_role(conn, role):
            _, err = run(conn, "SELECT public.set_tenant_context(%s)", [token])
        got = err.sqlstate if err else "ACCEPTED"
        text = error_text(err) if err else ""
        right_sig = real_b.rsplit(".", 1)[1]
        if got != expected or right_sig in text or _secret(conn).hex() in text:
            problems.append((label, token, f"expected {expected}, got {got}: {text}"))
        with as_role(conn, role):
            conn.execute("SELECT set_config('app.tenant_token', %s, true)", [token])
            seen = {r: n for r, n in _b_rows_everywhere(conn, world).items() if n != 0}
            _, write = run(conn, "INSERT INTO public.pipeline_stages (name, display_name, order_index) "
                                 "VALUES ('x', 'X', 99)")
        report.append(f"{label:36} set_tenant_context: {got:8} set_config: nonzero {seen or '-'}; "
                      f"insert: {write.sqlstate if write else 'ALLOWED'}")
        # Through set_config, a view answers 0 rows, a table 0 rows, app.current_tenant_id() 28T05.
        if {r: n for r, n in seen.items() if n not in ("28T05",)}:
            problems.append((label, "set_config", seen))
        if write is None:
            problems.append((label, "set_config", "insert accepted"))
    print_report(f"{role}: forged tokens", report)
    assert problems == [], "\n".join(map(str, problems))


@pytest.mark.parametrize("setting", ["app.current_tenant", "app.tenant_token"])
@pytest.mark.parametrize("value", ["b_id", "b_token_hash", "a_token_then_b_id"])
def test_naming_tenant_b_in_a_setting_reaches_no_row_of_it(conn, world, setting, value):
    """The settings the old and new context used, set by hand to B's id, or to the hex of a hash
    the registry holds, even on top of A's verified token: B stays invisible."""
    b = str(world.b["tenant"])
    for role in ROLES:
        with as_role(conn, role, world.token_a if value == "a_token_then_b_id" else None):
            given = hashlib.sha256(world.token_b.encode()).hexdigest() if value == "b_token_hash" else b
            conn.execute("SELECT set_config(%s, %s, true)", [setting, given])
            rows, _ = run(conn, "SELECT count(*) FROM public.tenants WHERE id = %s", [b])
            b_rows = {r: n for r, n in _b_rows_everywhere(conn, world).items()
                      if isinstance(n, int) and n and r != "public.tenants"}
            assert rows in (None, [(0,)]), (role, setting, value, rows)
            if value != "a_token_then_b_id":
                assert b_rows == {}, (role, setting, value, b_rows)


def test_a_token_replayed_after_its_key_is_retired_reaches_nothing(conn, world):
    """A token of B's, minted and registered with a second key that is then retired: set_tenant_context
    refuses it (28T04, unknown or retired key) and, put into app.tenant_token by hand, it matches no row,
    in a transaction that begins after the retirement and in one that began before it."""
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT app.add_tenant_key('k2', gen_random_bytes(32))")
        replay = conn.execute("SELECT app.mint_tenant_token(%s, '1 hour', 'k2')", [world.b["tenant"]]).fetchone()[0]
        before = {}
        for role in ROLES:
            with as_role(conn, role, replay):
                before[role] = conn.execute("SELECT count(*) FROM public.tenants").fetchone()[0]
        conn.execute("SELECT app.retire_tenant_key('k2')")
        for role in ROLES:
            with as_role(conn, role):
                _, err = run(conn, "SELECT public.set_tenant_context(%s)", [replay])
                assert err is not None and err.sqlstate == "28T04", (role, err)
            with as_role(conn, role):
                conn.execute("SELECT set_config('app.tenant_token', %s, true)", [replay])
                seen = {r: n for r, n in _b_rows_everywhere(conn, world).items() if n not in (0, "28T05")}
                assert seen == {}, (role, seen)
    assert before == {APP: 1, READONLY: 1}, "the replayed token worked before the retirement: the test means something"


def test_set_tenant_context_with_a_token_for_b_signed_with_a_guessed_secret_is_refused(conn, world):
    """The attack of the brief in its plainest form: guess the secret of the active key and sign B."""
    for secret in (b"\0" * 32, b"test" * 8, bytes.fromhex("00" * 32), b"maplatform".ljust(32, b"\0")):
        forged = tokens.mint(secret, "test", world.b["tenant"])
        with as_role(conn, APP):
            _, err = run(conn, "SELECT public.set_tenant_context(%s)", [forged])
        assert err is not None and err.sqlstate == "28T02", err
        assert err.diag.message_primary == "tenant token signature does not match"


# --- settings -------------------------------------------------------------------------------------

# Its own client_min_messages, so that no setting under test hides what it prints.
LEAK_FUNCTION = """CREATE FUNCTION pg_temp.attack_leak(text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE COST 0.0000001
                   SET client_min_messages = notice
                   AS $$BEGIN RAISE NOTICE 'attack_leak %', $1; RETURN true; END$$"""


def _leak_probe(world: World) -> sql.Composed:
    """One statement: through every tenant relation, a cheap, immutable, not leakproof function that
    prints every row it is shown. Row-level security and security_barrier views must show it A's rows only."""
    return sql.SQL("SELECT ") + sql.SQL(" + ").join(
        sql.SQL("(SELECT count(*) FROM {} AS t WHERE pg_temp.attack_leak(t::text))").format(_ident(r))
        for r in world.relations)


def _b_probe(world: World) -> sql.Composed:
    """One statement: tenant B's rows in every tenant relation, asked for by B's id."""
    return sql.SQL("SELECT ") + sql.SQL(" + ").join(
        sql.SQL("(SELECT count(*) FROM {} WHERE {} = %(b)s)").format(
            _ident(r), sql.Identifier("id" if r.split(".")[-1] == "tenants" else "tenant_id"))
        for r in world.relations)


USER_SETTINGS = """
SELECT name, vartype, setting, enumvals FROM pg_settings
WHERE context = 'user' AND vartype IN ('bool', 'enum')
  AND name NOT IN ('default_transaction_read_only', 'transaction_read_only')  -- only stop writes
ORDER BY name"""


@pytest.mark.parametrize("role", ROLES)
def test_no_setting_the_role_may_change_lets_it_see_tenant_b(conn, world, role):
    """Every setting of context 'user' (row_security, the planner's enable_*, TimescaleDB's enable_*
    and friends, pgvector's, pg_trgm's...), each switched to every other value, then: B's rows asked
    for by id in every tenant relation (0, or an error), and a leaky function shown each row of every
    tenant relation (only A's rows may reach it: RLS and security_barrier hold whatever the plan)."""
    conn.execute(LEAK_FUNCTION)
    settings = conn.execute(USER_SETTINGS).fetchall()
    variants = [("search_path", "pg_temp, public"), ("search_path", "")]
    for name, vartype, value, enumvals in settings:
        others = [v for v in (enumvals or ["on", "off"]) if v != value and not (vartype == "bool" and v == value)]
        if vartype == "bool":
            others = ["off" if value == "on" else "on"]
        variants += [(name, v) for v in others]
    report, leaks = [], []
    with as_role(conn, role, world.token_a):
        for name, value in variants:
            with conn.transaction(force_rollback=True):
                _, err = run(conn, "SELECT set_config(%s, %s, true)", [name, value])
                if err is not None:
                    report.append(f"{name} = {value}: cannot set ({err.sqlstate})")
                    continue
                rows, err_b = run(conn, _b_probe(world), {"b": world.b["tenant"]})
                conn.notices.clear()
                _, err_leak = run(conn, _leak_probe(world))
                shown = [n for n in conn.notices if n.startswith("attack_leak")]
                found = sorted({m for n in shown for m in leaked(n, world)})
                b_rows = rows[0][0] if rows else err_b.sqlstate
                if b_rows not in (0, err_b.sqlstate if err_b else None) or found:
                    leaks.append((role, f"SET {name} = {value}", b_rows, found))
                report.append(f"{name} = {value}: B rows {b_rows}; leaky function shown {len(shown)} rows"
                              f"{'' if err_leak is None else ' (' + err_leak.sqlstate + ')'}")
    print_report(f"{role}: {len(variants)} setting values", report)
    assert len(variants) > 60
    assert leaks == [], "\n".join(map(str, leaks))


@pytest.mark.parametrize("role", ROLES)
def test_row_security_off_is_an_error_on_tenant_tables_and_changes_nothing_on_views(conn, world, role):
    with as_role(conn, role, world.token_a):
        conn.execute("SET LOCAL row_security = off")
        for rel in world.relations:
            rows, err = run(conn, sql.SQL("SELECT count(*) FROM {}").format(_ident(rel)))
            kind = conn.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [rel]).fetchone()[0]
            if kind == "v":
                assert err is None and rows[0][0] <= 20, (rel, rows, err)  # A's rows only, as with it on
            else:
                assert err is not None and err.sqlstate == BLOCKED, (rel, rows, err)
                assert "row-level security" in err.diag.message_primary


# --- search_path and pg_temp against the SECURITY DEFINER functions -------------------------------

PRIVILEGED_BODIES = """
SELECT p.oid::regprocedure::text, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
  AND (p.prosecdef OR p.proconfig IS NOT NULL OR p.prorettype = 'trigger'::regtype)
UNION ALL
SELECT 'policy ' || polname || ' on ' || polrelid::regclass, coalesce(pg_get_expr(polqual, polrelid), '') || ' '
       || coalesce(pg_get_expr(polwithcheck, polrelid), '') FROM pg_policy
UNION ALL
SELECT 'view ' || c.oid::regclass, pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^_timescaledb|^timescaledb'
"""


def _shadow_everything(conn, world: World) -> tuple[list[str], list[str]]:
    """Create in this session's pg_temp, as the superuser (so that it works whether or not the role
    may create temporary objects): a table for every relation name the privileged code mentions,
    holding B's rows relabelled as A's (app.tenant_tokens: A's token hash mapped to tenant B), and a
    function for every function name it mentions, announcing itself with a NOTICE."""
    words = set()
    for _, body in conn.execute(PRIVILEGED_BODIES):
        words |= set(re.findall(r"[a-z_][a-z0-9_]*", body or ""))
    tables, functions = [], []
    for schema, rel, oid in conn.execute("""SELECT n.nspname, c.relname, c.oid FROM pg_class c
                                            JOIN pg_namespace n ON n.oid = c.relnamespace
                                            WHERE c.relkind IN ('r', 'p', 'v', 'm') AND c.relname = ANY(%s)
                                              AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
                                            ORDER BY n.nspname <> 'public', 1""", [sorted(words)]).fetchall():
        if rel in tables:
            continue
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE TEMP TABLE {} AS SELECT * FROM {} WITH NO DATA").format(
                    sql.Identifier(rel), sql.Identifier(schema, rel)))
                conn.execute(sql.SQL("GRANT ALL ON pg_temp.{} TO PUBLIC").format(sql.Identifier(rel)))
                cols = {r[0] for r in conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                                                   "AND attnum > 0", [f"pg_temp.{rel}"])}
                if rel == "tenant_tokens":
                    conn.execute("INSERT INTO pg_temp.tenant_tokens SELECT sha256(convert_to(%s, 'UTF8')), %s, 'test', "
                                 "now() + interval '1 hour'", [world.token_a, world.b["tenant"]])
                elif "tenant_id" in cols or rel == "tenants":
                    key = "id" if rel == "tenants" else "tenant_id"
                    conn.execute(sql.SQL("INSERT INTO pg_temp.{r} SELECT * FROM {s}.{r} WHERE {k} = %s").format(
                        r=sql.Identifier(rel), s=sql.Identifier(schema), k=sql.Identifier(key)), [world.b["tenant"]])
                    if "tenant_id" in cols:
                        conn.execute(sql.SQL("UPDATE pg_temp.{} SET tenant_id = %s").format(sql.Identifier(rel)),
                                     [world.a["tenant"]])
                tables.append(rel)
        except psycopg.Error:
            pass
    for name, args, ret in conn.execute("""SELECT DISTINCT p.proname, pg_get_function_identity_arguments(p.oid),
                                                  format_type(p.prorettype, NULL)
                                           FROM pg_proc p WHERE p.proname = ANY(%s) AND p.prokind = 'f'
                                             AND NOT p.proretset""", [sorted(words)]).fetchall():
        body = f"BEGIN RAISE NOTICE 'attack_hijack {name}'; RETURN NULL; END"
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE FUNCTION pg_temp.{}({}) RETURNS {} LANGUAGE plpgsql AS {}").format(
                    sql.Identifier(name), sql.SQL(args), sql.SQL(ret), sql.Literal(body)))
                functions.append(name)
        except psycopg.Error:
            pass
    return tables, functions


@pytest.mark.parametrize("role", ROLES)
def test_pg_temp_objects_named_like_what_privileged_code_uses_hijack_nothing(conn, world, role):
    """Tables and functions in pg_temp named after every relation and function the SECURITY DEFINER
    functions, the functions with a fixed search_path, the trigger functions, the policies and the
    tenant views mention (their bodies, parsed), with search_path putting pg_temp first: every
    executable privileged function, the policies and the same-tenant triggers still read the real
    objects (no NOTICE from a shadow, none of B's marks in any result, B invisible, a reference to
    B's row still refused)."""
    gen = Arguments(conn, world)
    tables, functions = _shadow_everything(conn, world)
    assert "tenant_tokens" in tables and "deals" in tables, tables
    privileged = [f for f in conn.execute(EXECUTABLE, [role]).fetchall()
                  if (f[3] or (f[9] and not f[8])) and not UNCALLABLE & set(f[5])]
    problems, report = [], []
    with as_role(conn, role, world.token_a):
        conn.execute("SELECT set_config('search_path', 'pg_temp, public, app, pg_catalog', true)")
        conn.notices.clear()
        for oid, signature, kind, secdef, variadic, args, rettype, schema, _, _ in privileged:
            for combo in gen.combos(args)[:6]:
                stmt = _call(_qualified(conn, oid), kind, variadic, combo)
                rows, err = run(conn, stmt)
                text = "\n".join(str(r[0]) for r in rows or [])
                if leaked(text, world, passed=stmt):
                    problems.append((signature, stmt, leaked(text, world, passed=stmt)))
            report.append(signature)
        b_rows, _ = run(conn, _b_probe(world), {"b": world.b["tenant"]})
        _, ref = run(conn, "INSERT INTO public.deals (name, team_ids) VALUES ('x', ARRAY[%s]::uuid[])",
                     [world.b["user1"]])
        _, poly = run(conn, "INSERT INTO public.comments (commentable_type, commentable_id, content) "
                            "VALUES ('deal', %s, 'x')", [world.b["deal"]])
        hijacked = sorted({n for n in conn.notices if n.startswith("attack_hijack")})
        # The shadows are live: named without a schema, they are what this session finds.
        conn.notices.clear()
        control = (conn.execute("SELECT count(*) FROM tenant_tokens").fetchone()[0],
                   conn.execute("SELECT pg_temp.current_tenant_id()").fetchone()[0],
                   [n for n in conn.notices if n.startswith("attack_hijack")])
    assert control == (1, None, ["attack_hijack current_tenant_id"]), control
    print_report(f"{role}: shadows of {len(tables)} tables and {len(functions)} functions; privileged functions called",
                 report)
    assert hijacked == [], hijacked
    assert problems == [], problems
    assert b_rows == [(0,)], b_rows
    expected = "23503" if role == APP else BLOCKED  # the read-only role may not insert at all
    assert ref is not None and ref.sqlstate == expected, ref
    assert poly is not None and poly.sqlstate == expected, poly


# --- creating objects, role attributes, other sessions --------------------------------------------

@pytest.fixture(scope="module")
def logins(world, server):
    """A login role in each tenant-facing role, as docs/roles.md has the DBA create them (platform_api
    IN ROLE maplatform_app, bi_reader IN ROLE maplatform_readonly): all of an application's
    connections share one. Cluster-wide, so dropped at the end of the module."""
    names = {APP: f"attack_api_{os.getpid()}", READONLY: f"attack_bi_{os.getpid()}"}
    with server.admin() as c:
        for role, login in names.items():
            c.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(sql.Identifier(login), sql.Identifier(role)))
    dbname = world.url.rsplit("/", 1)[1]
    try:
        yield {role: server.url(dbname, user=login) for role, login in names.items()}
    finally:
        with server.admin() as c:
            for login in names.values():
                c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [login])
                c.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


@pytest.mark.parametrize("role", ROLES)
def test_the_role_may_create_nothing_in_any_schema_nor_alter_any_tenant_relation(conn, world, role):
    """No schema grants the role CREATE, nor the database; no trusted extension can be created; and on
    every relation holding tenant rows, every statement that would weaken isolation is refused."""
    creatable = [r[0] for r in conn.execute("""SELECT nspname FROM pg_namespace
                                               WHERE has_schema_privilege(%s, oid, 'CREATE')
                                                 AND nspname !~ '^pg_(toast_)?temp_'""", [role])]
    on_db = conn.execute("SELECT has_database_privilege(%s, current_database(), 'CREATE')", [role]).fetchone()[0]
    schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_(toast_)?temp_' "
                                          "ORDER BY 1")]
    trusted = [r[0] for r in conn.execute("""SELECT name FROM pg_available_extension_versions WHERE trusted
                                             AND name NOT IN (SELECT extname FROM pg_extension) GROUP BY name""")]
    holding = [r[0] for r in reachable_relations(conn, role) if r[4]]
    oids = {rel: conn.execute("SELECT %s::regclass::oid", [rel]).fetchone()[0] for rel in holding}
    policies = {}
    for rel, name in conn.execute("SELECT polrelid::regclass::text, polname FROM pg_policy"):
        policies.setdefault(rel, []).append(name)
    allowed = []
    with as_role(conn, role, world.token_a):
        for schema in schemas:
            s = sql.Identifier(schema)
            for stmt in (sql.SQL("CREATE TABLE {}.attack_t (x int)").format(s),
                         sql.SQL("CREATE VIEW {}.attack_v AS SELECT 1 AS x").format(s),
                         sql.SQL("CREATE FUNCTION {}.attack_f() RETURNS int LANGUAGE sql AS 'SELECT 1'").format(s)):
                if run(conn, stmt)[1] is None:
                    allowed.append(stmt.as_string(conn))
        for stmt in ["CREATE SCHEMA attack_s"] + [f'CREATE EXTENSION "{e}"' for e in trusted]:
            if run(conn, stmt)[1] is None:
                allowed.append(stmt)
        for rel in holding:
            r = _ident(rel)
            for stmt in (sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(r),
                         sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(r),
                         sql.SQL("CREATE POLICY attack_p ON {} USING (true)").format(r),
                         *[sql.SQL("DROP POLICY {} ON {}").format(sql.Identifier(p), r) for p in policies.get(rel, [])],
                         sql.SQL("CREATE TRIGGER attack_tr BEFORE INSERT ON {} FOR EACH ROW EXECUTE FUNCTION "
                                 "app.touch_updated_at()").format(r),
                         sql.SQL("CREATE RULE attack_r AS ON INSERT TO {} DO ALSO NOTIFY attack").format(r),
                         sql.SQL("CREATE INDEX attack_i ON {} ((1))").format(r),
                         sql.SQL("CREATE STATISTICS attack_st ON tenant_id, ctid FROM {}").format(r),
                         sql.SQL("GRANT SELECT ON {} TO PUBLIC").format(r),
                         sql.SQL("ALTER TABLE {} OWNER TO {}").format(r, sql.Identifier(role)),
                         sql.SQL("COMMENT ON TABLE {} IS 'x'").format(r),
                         sql.SQL("DROP TABLE {}").format(r),
                         sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT").format(r)):
                acl = conn.execute("SELECT relacl::text FROM pg_class WHERE oid = %s", [oids[rel]]).fetchone()
                rows, err = run(conn, stmt)
                text = stmt.as_string(conn)
                if text.startswith("GRANT"):  # without the grant option: a WARNING, and nothing granted
                    err = err or (None if conn.execute("SELECT relacl::text FROM pg_class WHERE oid = %s",
                                                       [oids[rel]]).fetchone() != acl else "nothing granted")
                if err is None and not text.startswith("LOCK"):
                    allowed.append(text)
        lock = sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT")
        lockable = [rel for rel in holding if run(conn, lock.format(_ident(rel)))[1] is None]
    print_report(f"{role}: note: relations it may LOCK IN ACCESS EXCLUSIVE MODE (stops every tenant until its "
                 "transaction ends: a denial of service, not a leak)", lockable)
    assert (creatable, on_db) == ([], False)
    assert allowed == [], allowed


@pytest.mark.parametrize("role", ROLES)
def test_the_role_cannot_raise_its_own_attributes_nor_reach_a_privileged_role(conn, world, role, logins):
    """As the login an application uses (a member of the role): no escalating ALTER ROLE on itself or
    on the role it belongs to, no membership of a role that bypasses or owns the policies, no SET ROLE
    to one, no ALTER ROLE/DATABASE SET for anyone else. What ALTER ROLE on itself does allow (its
    password, its own defaults: PostgreSQL lets every role do that) is printed as a note."""
    members = [r[0] for r in conn.execute("""SELECT rolname FROM pg_roles WHERE pg_has_role(%s, oid, 'USAGE')
                                             AND rolname <> %s""", [role, role])]
    assert members == [], f"{role} has the privileges of {members}"
    login = logins[role].rsplit("@", 1)[0].split("//", 1)[1]
    refused, allowed = [], []
    with psycopg.connect(logins[role], autocommit=True) as c:
        with c.transaction(force_rollback=True):
            c.execute("SELECT public.set_tenant_context(%s)", [world.token_a])
            for who in (login, role):
                for attr in ("SUPERUSER", "BYPASSRLS", "CREATEROLE", "CREATEDB", "REPLICATION", "LOGIN",
                             "CONNECTION LIMIT 100", "VALID UNTIL 'infinity'", "NOINHERIT"):
                    _, err = run(c, sql.SQL("ALTER ROLE {} " + attr).format(sql.Identifier(who)))
                    (refused if err else allowed).append(f"ALTER ROLE {who} {attr}")
            for stmt in [f"SET ROLE {r}" for r in ("maplatform_owner", "maplatform_maintenance", "maplatform_ops",
                                                   "postgres", "pg_read_all_data", "pg_write_all_data")] + [
                    "GRANT maplatform_owner TO " + login, "GRANT maplatform_maintenance TO " + login,
                    "ALTER ROLE maplatform_owner SET search_path = pg_temp",
                    "ALTER ROLE maplatform_maintenance PASSWORD 'x'",
                    f"ALTER DATABASE {world.url.rsplit('/', 1)[1]} SET row_security = off",
                    "ALTER ROLE ALL SET search_path = pg_temp", "CREATE ROLE attack_role",
                    "SET SESSION AUTHORIZATION maplatform_owner"]:
                _, err = run(c, stmt)
                (refused if err else allowed).append(stmt)
            notes = []
            for stmt in (f"ALTER ROLE {login} PASSWORD 'attacker-chosen'",
                         f"ALTER ROLE {login} SET statement_timeout = 1",
                         f"ALTER ROLE {login} SET search_path = pg_temp, public",
                         f"ALTER ROLE {login} SET app.tenant_token = 'x'",
                         f"ALTER ROLE {role} SET statement_timeout = 1"):
                _, err = run(c, stmt)
                notes.append(f"{stmt}: {err.sqlstate if err else 'ALLOWED'}")
    print_report(f"{role}: note: what ALTER ROLE on itself allows (a password it chooses and defaults for its "
                 "future sessions: persistence and denial of service, not isolation)", notes)
    assert allowed == [], allowed




@pytest.mark.parametrize("role", ROLES)
def test_a_session_cannot_read_another_sessions_statements_nor_replay_a_token_found_there(world, logins, role):
    """Two connections of the same application login (every connection of an application shares it):
    the victim serves tenant B (set_tenant_context with B's token, bound on the client as psycopg2, many
    drivers and poolers do) and waits in its transaction; the attacker, injected into a request of
    tenant A's, reads pg_stat_activity and pg_stat_get_backend_activity(), takes any token it finds
    and replays it. It must see no other session's statement text, and no row of B's."""
    # literals in the statement text, as client-side binding puts them; each victim waits in its transaction
    victims = [psycopg.connect(logins[role], cursor_factory=psycopg.ClientCursor) for _ in range(2)]
    attacker = psycopg.connect(logins[role], autocommit=True)
    try:
        victims[0].execute("SELECT public.set_tenant_context(%s)", [world.token_b])
        victims[1].execute("SELECT public.set_tenant_context(%s)", [world.token_b])
        victims[1].execute("SELECT name FROM public.deals WHERE name LIKE %s", ["%" + world.secret + "%"]).fetchall()
        with attacker.transaction(force_rollback=True):
            attacker.execute("SELECT public.set_tenant_context(%s)", [world.token_a])
            texts = set()
            for query in ("SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
                          "SELECT pg_stat_get_backend_activity(i) FROM pg_stat_get_backend_idset() AS i "
                          "WHERE pg_stat_get_backend_pid(i) <> pg_backend_pid()"):
                rows, _ = run(attacker, query)  # refused (42501) is the fix, not a failure
                texts |= {r[0] for r in rows or [] if r[0] and not r[0].startswith("<")}
            texts = sorted(texts)
            stolen = sorted({m.group(0) for t in texts for m in TOKEN_RE.finditer(t)
                             if m.group(1) != str(world.a["tenant"])})
            replayed = {}
            for token in stolen:
                rows, err = run(attacker, "SELECT public.set_tenant_context(%s), (SELECT count(*) FROM public.deals), "
                                          "(SELECT string_agg(name, ', ') FROM public.deals)", [token])
                replayed[token[:50] + "..."] = rows[0][1:] if rows else err.sqlstate
    finally:
        for c in victims + [attacker]:
            c.close()
    leaks = [t for t in texts if leaked(t, world)]
    report = [f"visible statement of another session: {t[:160]!r}" for t in texts] + [
        f"replayed {k}: tenant B's deals seen {v}" for k, v in replayed.items()]
    print_report(f"{role}: another session's statements", report)
    assert leaks == [] and replayed == {}, (
        f"as a login in {role}, with tenant A's token: pg_stat_activity.query showed another session's "
        f"statements holding tenant B's data {[leaked(t, world) for t in leaks]}; replaying the token found there "
        f"gave {replayed}")
    assert texts == [], f"other sessions' statement texts are visible to {role}: {texts}"


@pytest.mark.parametrize("role", ROLES)
def test_objects_left_in_pg_temp_on_a_pooled_connection_capture_nothing_of_the_next_tenant(world, logins, role):
    """A transaction-mode pooler (docs/roles.md: set_tenant_context is safe behind one) hands the same
    server connection to tenant A's request, then to tenant B's. A's injected SQL leaves a temporary
    view named like the table the application queries without a schema (`SELECT ... FROM deals`, as
    the docs' example does): pg_temp comes first in every search_path. B's request then reads through
    it, and A's next request collects what B read. The role must not be able to create temporary
    objects (or, if it can, B's request must not resolve them)."""
    conn = psycopg.connect(logins[role], autocommit=True)
    captured, plant_err = [], None
    try:
        with conn.transaction():  # tenant A's request: plant
            conn.execute("SELECT public.set_tenant_context(%s)", [world.token_a])
            _, plant_err = run(conn, """
                CREATE TEMP TABLE loot (row_text text);
                CREATE FUNCTION pg_temp.grab(text) RETURNS boolean LANGUAGE plpgsql AS
                    'BEGIN INSERT INTO pg_temp.loot VALUES ($1); RETURN true; END';
                CREATE TEMP VIEW deals AS SELECT * FROM public.deals AS d WHERE pg_temp.grab(d::text)""")
        with conn.transaction():  # tenant B's request, as the application writes it
            conn.execute("SELECT public.set_tenant_context(%s)", [world.token_b])
            seen_by_b = conn.execute("SELECT name FROM deals WHERE archived_at IS NULL").fetchall()
        if plant_err is None:
            with conn.transaction():  # tenant A's next request: collect
                conn.execute("SELECT public.set_tenant_context(%s)", [world.token_a])
                captured = [r[0] for r in conn.execute("SELECT row_text FROM pg_temp.loot")]
    finally:
        conn.close()
    with psycopg.connect(world.url) as c:
        can_temp = c.execute("SELECT has_database_privilege(%s, current_database(), 'TEMP')", [role]).fetchone()[0]
    print_report(f"{role}: pooled connection", [f"plant: {plant_err.sqlstate if plant_err else 'CREATED'}",
                                                f"B's request read {seen_by_b}", f"A collected {captured}"])
    assert captured == [], (
        f"{role} (TEMP on the database: {can_temp}) planted pg_temp.deals in tenant A's transaction; tenant B's next "
        f"request on the same connection read through it, and A collected {len(captured)} of B's rows: {captured}")


# --- inference ------------------------------------------------------------------------------------

GLOBAL_KEYS = """
SELECT format('%%I.%%I', n.nspname, c.relname), i.indexrelid::regclass::text,
       array_agg(a.attname ORDER BY k.ord), bool_and(a.atttypid = 'uuid'::regtype)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indisunique AND i.indrelid = ANY(%s::regclass[])
GROUP BY 1, 2 HAVING NOT 'tenant_id' = ANY(array_agg(a.attname::text))
ORDER BY 1, 2"""


def test_a_duplicate_key_on_a_globally_unique_column_tells_existence_and_nothing_more(conn, world):
    """Every unique index of a tenant table without tenant_id in its key (found in the catalog) is an
    existence oracle: an INSERT of a copy of A's row with B's key values, or an UPDATE of A's rows to
    them, fails with 23505. That is documented (docs/roles.md); what must not happen is any of B's data
    beyond the probed value in the error, a row of B's through ON CONFLICT DO UPDATE ... RETURNING,
    or an undocumented oracle on a value a tenant can guess (not a random uuid)."""
    keys = conn.execute(GLOBAL_KEYS, [world.base_tables]).fetchall()
    report, leaks, undocumented = [], [], []
    for table, index, cols, all_uuid in keys:
        values = conn.execute(sql.SQL("SELECT {} FROM {} WHERE {} = %s AND ({}) IS NOT NULL LIMIT 1").format(
            sql.SQL(", ").join(map(sql.Identifier, cols)), _ident(table), sql.Identifier(tenant_column(table)),
            sql.SQL(", ").join(map(sql.Identifier, cols))), [world.b["tenant"]]).fetchone()
        if values is None:
            report.append(f"{index} ({', '.join(cols)}): B has no value to probe")
            continue
        insert = _copy_of_row(conn, table, world.a["tenant"])
        passed = " ".join(map(str, values))
        outcome = {}
        with as_role(conn, APP, world.token_a):
            assign = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in cols)
            _, err = run(conn, sql.SQL("UPDATE {} SET {}").format(_ident(table), assign), list(values))
            outcome["update A's rows to B's key"] = err.sqlstate if err else "no conflict"
            if err is not None and leaked(error_text(err), world, passed):
                leaks.append((index, "UPDATE error", leaked(error_text(err), world, passed)))
            if insert is not None:
                stmt, row = insert
                row.update({c: str(v) for c, v in zip(cols, values)})
                upsert = sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {c} = EXCLUDED.{c} RETURNING to_jsonb(EXCLUDED)::text"
                                 ).format(sql.SQL(", ").join(map(sql.Identifier, cols)), c=sql.Identifier(cols[0]))
                for label, suffix in (("insert", ""), ("on conflict do update", upsert),
                                      ("on conflict do nothing", sql.SQL(" ON CONFLICT DO NOTHING RETURNING 1"))):
                    rows, err = run(conn, stmt + suffix if suffix else stmt, [json.dumps(row)])
                    outcome[label] = err.sqlstate if err else f"{rows}"
                    text = error_text(err) if err else json.dumps(rows, default=str)
                    if leaked(text, world, passed + " " + json.dumps(row)):
                        leaks.append((index, label, leaked(text, world, passed + " " + json.dumps(row))))
        exposed = "23505" in outcome.values() or "[]" in outcome.values()
        documented = all_uuid or set(cols) <= DOCUMENTED_GLOBAL_KEYS or index.endswith("_pkey")
        if exposed and not documented:
            undocumented.append((index, cols))
        report.append(f"{index} ({', '.join(cols)}{', uuids' if all_uuid else ''}): {outcome}"
                      f"{'  <- existence oracle' if exposed else ''}{'' if documented else '  UNDOCUMENTED'}")
    print_report("note: globally unique keys of tenant tables, probed with tenant B's values as tenant A", report)
    assert keys, "no global unique key found: the catalog query is wrong"
    assert leaks == [], leaks
    assert undocumented == [], f"existence oracles on guessable values that docs/roles.md does not list: {undocumented}"


def test_the_keys_made_per_tenant_tell_nothing_of_another_tenants_values(conn, world):
    """Before 0036 users.clerk_id, user_sessions.token_hash, data_rooms.access_code and
    documents.storage_key were unique across tenants: putting tenant B's value on a row of tenant A's
    failed with 23505, telling A that the value exists. Now the outcome of each write is the same for
    B's value as for a value nobody holds: accepted for the first three (B's row and A's may share a
    value), refused by the prefix CHECK (23514) for a storage key under B's prefix, whether or not B has
    such an object. Nothing of B's is returned or named."""
    found = {table: cols for table, _, cols, _ in conn.execute(GLOBAL_KEYS, [world.base_tables]).fetchall()}
    assert not set(FORMERLY_GLOBAL_KEYS) & set(found), found  # no unique index without tenant_id is left
    report, differ, leaks = [], [], []
    for table, column in FORMERLY_GLOBAL_KEYS.items():
        theirs, row_id = conn.execute(sql.SQL("SELECT b.{c}, a.id FROM {t} AS b, {t} AS a WHERE b.tenant_id = %s "
                                              "AND a.tenant_id = %s AND b.{c} IS NOT NULL LIMIT 1").format(
            c=sql.Identifier(column), t=_ident(table)), [world.b["tenant"], world.a["tenant"]]).fetchone()
        # a value of the same shape that nobody holds: the storage key under B's prefix, another object
        nobodys = {"token_hash": hashlib.sha256(uuid.uuid4().bytes).hexdigest(), "access_code": uuid.uuid4().hex[:20],
                   "storage_key": f"tenants/{world.b['tenant']}/{uuid.uuid4()}.pdf"}.get(column, str(uuid.uuid4()))
        outcome = {}
        for label, value in (("B's value", theirs), ("nobody's", nobodys)):
            with as_role(conn, APP, world.token_a):
                rows, err = run(conn, sql.SQL("UPDATE {t} AS r SET {c} = %s WHERE id = %s RETURNING to_jsonb(r)::text")
                                .format(t=_ident(table), c=sql.Identifier(column)), [value, row_id])
            outcome[label] = err.sqlstate if err else f"{len(rows)} row"
            text = error_text(err) if err else json.dumps(rows)
            if leaked(text, world, str(value)):
                leaks.append((table, column, label, leaked(text, world, str(value))))
        expected = "23514" if column == "storage_key" else "1 row"
        if outcome != {"B's value": expected, "nobody's": expected}:
            differ.append((table, column, outcome))
        report.append(f"{table}.{column}: {outcome}")
    print_report("the keys made per tenant (0036), probed with tenant B's value and nobody's as tenant A", report)
    assert differ == [], differ
    assert leaks == [], leaks


PLANNER_VARIANTS = [
    {},
    {"enable_seqscan": "off", "enable_bitmapscan": "off"},
    {"enable_nestloop": "off"},
    {"enable_hashjoin": "off", "enable_mergejoin": "off", "enable_seqscan": "off"},
]
LEAKPROOF_EQUALITY = """
SELECT EXISTS (SELECT 1 FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode
               WHERE o.oprname = '=' AND o.oprleft = %(t)s::regtype AND o.oprright = %(t)s::regtype
                 AND p.proleakproof)"""


def _indexed_columns(conn, relation: str) -> list[tuple[str, str]]:
    """(column, type) of `relation` that some index of its base table has as a key, except tenant_id."""
    base = base_table(conn, relation)
    return conn.execute("""SELECT DISTINCT a.attname, format_type(a.atttypid, NULL) FROM pg_index i
                           CROSS JOIN LATERAL unnest(i.indkey::int2[]) AS k (attnum)
                           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                           JOIN pg_attribute v ON v.attrelid = %s::regclass AND v.attname = a.attname
                           WHERE i.indrelid = %s::regclass AND a.attname <> 'tenant_id' ORDER BY 1""",
                        [relation, base]).fetchall()


def _counters(plan) -> list[tuple]:
    """What EXPLAIN ANALYZE tells about rows the caller never receives: per node, its type and relation,
    the rows it produced and those its filters removed."""
    out = []

    def walk(node):
        out.append((node.get("Node Type"), node.get("Relation Name"),
                    node.get("Actual Rows", 0) * node.get("Actual Loops", 1), node.get("Rows Removed by Filter", 0),
                    node.get("Rows Removed by Index Recheck", 0), node.get("Rows Removed by Join Filter", 0)))
        for child in node.get("Plans", []):
            walk(child)
    walk(plan[0]["Plan"])
    return sorted(out, key=str)


def _absent_value(conn, base: str, column: str, typ: str, value):
    """A value of the column's type next to `value` that no tenant has (None if none is found)."""
    for expr in ("%s::{t} + interval '1 microsecond'", "%s::{t} + 1", "%s::{t} || '~'", "gen_random_uuid()"):
        try:
            with conn.transaction():
                stmt = sql.SQL("SELECT (" + expr.format(t=typ) + ")::" + typ)
                v = conn.execute(stmt, [value] if "%s" in expr else None).fetchone()[0]
                absent = conn.execute(sql.SQL("SELECT count(*) = 0 FROM {} WHERE {} = %s").format(
                    _ident(base), sql.Identifier(column)), [v]).fetchone()[0]
            if absent:
                return v
        except psycopg.Error:
            continue
    return None


def _explain_oracle(conn, relation: str, column: str, typ: str, values: tuple):
    """As the current role: EXPLAIN ANALYZE of one generic plan of `SELECT 1 FROM relation WHERE column
    = $1` for each of `values` (B's, nobody's), under each planner variant. The first variant whose
    per-node counts differ, with the nodes that differ; None when they never do."""
    col = sql.Identifier(column)
    conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    prepare = sql.SQL("PREPARE attack_probe ({}) AS SELECT 1 FROM {} WHERE {} = $1").format(
        sql.SQL(typ), _ident(relation), col)
    probe = sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE attack_probe ({}::"
                    + typ + ")")
    for variant in PLANNER_VARIANTS:
        with conn.transaction(force_rollback=True):
            for k, v in variant.items():
                conn.execute("SELECT set_config(%s, %s, true)", [k, v])
            conn.execute("DEALLOCATE ALL")
            conn.execute(prepare)  # planned once, under these settings, for both values
            seen = [_counters(conn.execute(probe.format(sql.Literal(str(v)))).fetchone()[0]) for v in values]
            conn.execute("DEALLOCATE attack_probe")
        if seen[0] != seen[1]:
            return variant, [c for c in seen[0] if c not in seen[1]], [c for c in seen[1] if c not in seen[0]]
    return None


@pytest.mark.parametrize("role", ROLES)
def test_explain_analyze_counts_no_row_of_tenant_b_matching_a_guessed_value(conn, world, role):
    """EXPLAIN ANALYZE prints, per plan node, the rows it produced and the rows its filters removed,
    including rows the caller never receives. For every indexed column of every tenant relation,
    the same generic plan is run for a value only tenant B has and for a value nobody has, under the
    planner settings the role may change: if the counts differ, the role has learnt that B holds that
    value (and, by repeating, B's values). Columns of random uuids (knowing B's id is needed) and the
    documented global keys are notes; any other such column is a finding. Estimates (EXPLAIN without
    ANALYZE) are printed as notes only."""
    notes, findings = [], []
    readable = {r[0] for r in reachable_relations(conn, role) if r[2]}
    for rel in world.relations:
        if conn.execute("SELECT %s::regclass::text", [rel]).fetchone()[0] not in readable:
            continue
        base = base_table(conn, rel)
        for column, typ in _indexed_columns(conn, rel):
            if not conn.execute(LEAKPROOF_EQUALITY, {"t": "text" if typ == "character varying" else typ}).fetchone()[0]:
                continue
            only_b = sql.SQL("SELECT {c} FROM {t} WHERE {k} = %(b)s AND {c} IS NOT NULL AND {c} NOT IN "
                             "(SELECT {c} FROM {t} WHERE {k} <> %(b)s AND {c} IS NOT NULL) LIMIT 1").format(
                c=sql.Identifier(column), t=_ident(base), k=sql.Identifier(tenant_column(base)))
            value = conn.execute(only_b, {"b": world.b["tenant"]}).fetchone()
            absent = _absent_value(conn, base, column, typ, value[0]) if value else None
            if absent is None:
                continue
            with as_role(conn, role, world.token_a):
                explain = sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM {} WHERE {} = %s::" + typ).format(
                    _ident(rel), sql.Identifier(column))
                estimates = [conn.execute(explain, [v]).fetchone()[0][0]["Plan"]["Plan Rows"]
                             for v in (value[0], absent)]
                if estimates[0] != estimates[1]:
                    notes.append(f"{rel}.{column}: estimated rows {estimates[0]} for B's value, {estimates[1]} "
                                 "for none")
                oracle = _explain_oracle(conn, rel, column, typ, (value[0], absent))
            if oracle:
                variant, b_nodes, none_nodes = oracle
                entry = (f"{rel}.{column} ({typ}) with {variant or 'default settings'}: "
                         f"B's value {value[0]!s:.40} -> {b_nodes}, nobody's -> {none_nodes}")
                (findings if typ != "uuid" and column not in DOCUMENTED_GLOBAL_KEYS else notes).append(entry)
    print_report(f"{role}: note: EXPLAIN estimates and oracles on ids or documented keys", notes)
    print_report(f"{role}: EXPLAIN ANALYZE oracles on values a tenant can guess", findings)
    assert findings == [], (f"as {role} with tenant A's token, EXPLAIN ANALYZE counts tenant B's rows that hold a "
                            "value the attacker guessed (per node: type, relation, rows, removed by filter, by "
                            "recheck, by join filter):\n" + "\n".join(findings))
