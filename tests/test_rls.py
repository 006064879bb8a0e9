"""Tenant isolation against a hostile tenant, on the real migrated schema.

Tenant tables are discovered from the catalog with the query `dbtool check rls` uses (any
application schema; a tenant_id column, the tenants table, or a foreign-key path to it), so a table
added later is covered without editing this file; seeding then fails, naming the table, until
schema_support.seed_tenant gives it rows. The views through which the application writes a private
table (activity_timeline) are discovered too and probed like tables. Everything runs as
maplatform_app (NOLOGIN, so SET ROLE, as a pooler's login role would), with tenant A's token set,
against tenants A and B seeded with a row in every table. tests/test_attacks.py goes further: every
path the catalog offers, and forging the tenant.
"""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from schema_support import (APP, OPS, READONLY, TIMELINE_DML_BUG, acting_as, attempt, base_table, cloned_db,
                            refresh_summaries, seed_tenant, timeline_dml_bug,
                            tenant_column, tenant_tables, tenant_token, tenant_views)

BLOCKED = "42501"  # insufficient_privilege: both "new row violates row-level security" and "permission denied"
CHECK_OPTION = "44000"  # a view's WITH CHECK OPTION: the row would not be visible through it
REFUSED = (BLOCKED, CHECK_OPTION)


@pytest.fixture(scope="module")
def db(server):
    with cloned_db(server, "rls") as url:
        with psycopg.connect(url, autocommit=True) as c:
            tables = tenant_tables(c)
            a, b = seed_tenant(c, "tenant-a", tables), seed_tenant(c, "tenant-b", tables)
            refresh_summaries(c)
        yield url, a, b


@pytest.fixture
def conn(db, conn_to):
    return conn_to(db[0])


@pytest.fixture(scope="module")
def tables(db):
    """The discovered tenant tables; each must hold rows of both tenants, or every test using them
    fails naming the tables (an empty table would make its isolation checks pass vacuously)."""
    url, a, b = db
    with psycopg.connect(url, autocommit=True) as c:
        found = tenant_tables(c) + tenant_views(c)
        empty = sorted({t for t in found for who in (a, b) if _rows(c, t, who["tenant"]) == 0})
    if empty:
        pytest.fail(f"no rows of both tenants in {', '.join(empty)}: add rows for them to schema_support.seed_tenant")
    return found


def _rows(conn, table, tenant) -> int:
    """Rows of `tenant` in `table` (for a view, in the table it reads), counted as the superuser."""
    table = base_table(conn, table)
    return conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
        sql.Identifier(*table.split(".")) if "." in table else sql.Identifier(table),
        sql.Identifier(tenant_column(table))), [tenant]).fetchone()[0]


def _ident(table: str) -> sql.Composable:
    return sql.Identifier(*table.split(".")) if "." in table else sql.Identifier(table)


def _copy_of_row(conn, table, tenant) -> tuple[sql.Composed, dict]:
    """An INSERT that writes a copy of one of `tenant`'s rows (with a new id), read as the superuser."""
    cols = [r[0] for r in conn.execute("""SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass
                                          AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
                                          ORDER BY attnum""", [table])]
    row = conn.execute(sql.SQL("SELECT to_jsonb(t) FROM {} AS t WHERE {} = %s LIMIT 1").format(
        _ident(base_table(conn, table)), sql.Identifier(tenant_column(table))), [tenant]).fetchone()[0]
    if "id" in row and tenant_column(table) != "id":
        row["id"] = str(uuid.uuid4())
    columns = sql.SQL(", ").join(map(sql.Identifier, cols))
    stmt = sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM jsonb_populate_record(NULL::{t}, %s)").format(
        t=_ident(table), c=columns)
    return stmt, row


def test_every_tenant_table_is_discovered_and_seeded_for_both_tenants(conn, db, tables):
    _, a, b = db
    assert len(tables) >= 19 and {"public.tenants", "public.deals", "public.activity_timeline"} <= set(tables), tables
    unseeded = [t for t in tables for who in (a, b) if _rows(conn, t, who["tenant"]) == 0]
    assert not unseeded, f"add rows for these tables to schema_support.seed_tenant: {sorted(set(unseeded))}"


def test_a_tenant_table_added_later_anywhere_is_discovered_and_seeding_fails_naming_it(conn, tables):
    """A later table in another schema, with a tenant_id column or only a foreign key to a tenant table,
    is discovered like `dbtool check rls` finds it; the seed helper refuses to leave it empty."""
    with conn.transaction(force_rollback=True):
        conn.execute("CREATE SCHEMA crm")
        conn.execute("CREATE TABLE crm.contacts (id uuid PRIMARY KEY, tenant_id uuid NOT NULL)")
        # since 0030 a deal's id is unique per tenant only: a foreign key to deals names both columns
        conn.execute("CREATE TABLE crm.deal_notes (id uuid PRIMARY KEY, deal_tenant uuid, deal_id uuid, "
                     "FOREIGN KEY (deal_tenant, deal_id) REFERENCES public.deals (tenant_id, id))")
        later = tenant_tables(conn)
        with pytest.raises(AssertionError) as refused:
            seed_tenant(conn, "later", later)
    assert set(later) - set(tables) == {"crm.contacts", "crm.deal_notes"}
    assert "does not know how to fill crm.contacts, crm.deal_notes" in str(refused.value)


def test_every_tenant_table_has_row_level_security_enabled_and_forced(conn, tables):
    lax = [r[0] for r in conn.execute("""SELECT oid::regclass::text FROM pg_class
                                         WHERE oid = ANY(%s::regclass[]) AND relkind <> 'v'
                                           AND NOT (relrowsecurity AND relforcerowsecurity)""", [tables])]
    assert lax == []


def test_the_timeline_view_is_the_only_way_to_the_private_hypertable(conn, tables):
    """public.activity_timeline is a security_barrier view WITH CASCADED CHECK OPTION over
    timeline.activity_timeline, which no tenant-facing role may use or read."""
    assert "public.activity_timeline" in tables
    options = conn.execute("SELECT reloptions FROM pg_class WHERE oid = 'public.activity_timeline'::regclass"
                           ).fetchone()[0]
    assert set(options) >= {"security_barrier=true", "check_option=cascaded"}
    assert base_table(conn, "public.activity_timeline") == "timeline.activity_timeline"
    reach = conn.execute("""SELECT r, has_schema_privilege(r, 'timeline', 'USAGE'),
                                   has_table_privilege(r, 'timeline.activity_timeline', 'SELECT, INSERT, UPDATE, DELETE')
                            FROM unnest(%s::text[]) AS r""", [[APP, READONLY, OPS]]).fetchall()
    assert [(r, False, False) for r in (APP, READONLY, OPS)] == reach


def test_app_with_tenant_a_sees_writes_and_moves_nothing_of_tenant_b(conn, db, tables):
    _, a, b = db
    A, B = a["tenant"], b["tenant"]
    report, leaks = [], []
    for table in tables:
        col = sql.Identifier(tenant_column(table))
        t = _ident(table)
        insert_b, row_b = _copy_of_row(conn, table, B)
        own = _rows(conn, table, A)
        with acting_as(conn, APP, A):
            visible = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(t)).fetchone()[0]
            seen_b = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(t, col), [B]).fetchone()[0]
            _, insert_err = attempt(conn, insert_b, [Jsonb(row_b)])
            updated, update_err = attempt(conn, sql.SQL("UPDATE {} SET {} = {} WHERE {} = %s").format(t, col, col, col), [B])
            deleted, delete_err = attempt(conn, sql.SQL("DELETE FROM {} WHERE {} = %s").format(t, col), [B])
            moved, move_err = attempt(conn, sql.SQL("UPDATE {} SET {} = %s WHERE {} = %s").format(t, col, col), [B, A])
        outcome = {
            "sees_own": visible == own, "sees_b": seen_b,
            "insert_b": insert_err.sqlstate if insert_err else "ALLOWED",
            "update_b": updated if update_err is None else _refusal(conn, table, update_err),
            "delete_b": deleted if delete_err is None else _refusal(conn, table, delete_err),
            "move_to_b": _refusal(conn, table, move_err) if move_err else f"ALLOWED ({moved})",
        }
        report.append((table, visible, outcome))
        if (not outcome["sees_own"] or seen_b or outcome["insert_b"] not in REFUSED
                or outcome["update_b"] not in (0, BLOCKED) or outcome["delete_b"] not in (0, BLOCKED)
                or outcome["move_to_b"] not in REFUSED):
            leaks.append((table, outcome))
    print(f"\n{'table':34} {'A rows':>6}  outcome (app role, tenant A set)")
    for table, visible, outcome in report:
        print(f"{table:34} {visible:>6}  {outcome}")
    print(f"{len(report)} tables, {len(leaks)} leaks")
    assert leaks == []


def _refusal(conn, table: str, err: psycopg.Error) -> str:
    """An error's SQLSTATE; TimescaleDB's known planner bug on the timeline view (before 2.25.2, the
    community edition's form) refuses the statement without changing a row, and counts as refused."""
    if timeline_dml_bug(conn) and table == "public.activity_timeline" and TIMELINE_DML_BUG in str(err):
        return BLOCKED
    return err.sqlstate


def test_app_without_a_tenant_sees_nothing_and_writes_nothing(conn, db, tables):
    _, a, _ = db
    report = {}
    for table in tables:
        insert_a, row_a = _copy_of_row(conn, table, a["tenant"])
        with acting_as(conn, APP):
            visible = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(table))).fetchone()[0]
            _, err = attempt(conn, insert_a, [Jsonb(row_a)])
            changed, _ = attempt(conn, sql.SQL("UPDATE {} SET {} = {}").format(
                _ident(table), *[sql.Identifier(tenant_column(table))] * 2))
        report[table] = (visible, err.sqlstate if err else "ALLOWED", changed)
    print("\nno tenant set: (rows seen, insert, rows updated)", report)
    assert {t: r for t, r in report.items() if r[0] != 0 or r[1] not in REFUSED or r[2] not in (0, None)} == {}


def test_readonly_role_reads_its_tenant_under_rls_and_writes_nothing(conn, db):
    _, a, b = db
    with acting_as(conn, READONLY, a["tenant"]):
        assert conn.execute("SELECT count(*) FROM public.deals").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM public.deals WHERE tenant_id = %s", [b["tenant"]]).fetchone()[0] == 0
        _, err = attempt(conn, "DELETE FROM public.deals")
        assert err.sqlstate == BLOCKED


# --- cross-tenant references --------------------------------------------------------------------

# Each statement runs as the application role with tenant A set (tenant_id comes from the context
# default) and names, through %(ref)s, a row of the kind in the key; {a_...} are tenant A's own rows.
REFERENCES = {
    "deals.owner_id -> users": ("user1", "INSERT INTO public.deals (name, owner_id) VALUES ('x', %(ref)s)"),
    "deals.team_ids -> users": ("user1", "INSERT INTO public.deals (name, team_ids) VALUES ('x', ARRAY[%(ref)s]::uuid[])"),
    "deal_team_members.deal_id -> deals": (
        "deal", "INSERT INTO public.deal_team_members (deal_id, user_id) VALUES (%(ref)s, %(a_user1)s)"),
    "deal_team_members.user_id -> users": (
        "user1", "INSERT INTO public.deal_team_members (deal_id, user_id) VALUES (%(a_deal)s, %(ref)s)"),
    "user_sessions.user_id -> users": (
        "user1", "INSERT INTO public.user_sessions (user_id, token_hash, expires_at) "
                 "VALUES (%(ref)s, repeat('0', 64), now())"),
    "documents.folder_id -> document_folders": (
        "folder", "INSERT INTO public.documents (name, storage_key, folder_id) "
                  "VALUES ('x', 'tenants/' || app.current_tenant_id() || '/k1', %(ref)s)"),
    "documents.parent_version_id -> documents": (
        "doc", "INSERT INTO public.documents (name, storage_key, parent_version_id) "
               "VALUES ('x', 'tenants/' || app.current_tenant_id() || '/k2', %(ref)s)"),
    "document_folders.parent_id -> document_folders": (
        "folder", "INSERT INTO public.document_folders (name, path, parent_id) VALUES ('x', '/x', %(ref)s)"),
    "data_room_permissions.allowed_folders -> document_folders": (
        "folder", "INSERT INTO public.data_room_permissions (data_room_id, allowed_folders) "
                  "VALUES (%(a_room)s, ARRAY[%(ref)s]::uuid[])"),
    "data_room_permissions.denied_folders -> document_folders": (
        "folder", "INSERT INTO public.data_room_permissions (data_room_id, denied_folders) "
                  "VALUES (%(a_room)s, ARRAY[%(ref)s]::uuid[])"),
    "activities.attachments -> documents": (
        "doc", "INSERT INTO public.activities (type, title, attachments) VALUES ('note', 'x', ARRAY[%(ref)s]::uuid[])"),
    "tasks.depends_on -> tasks": ("task1", "INSERT INTO public.tasks (title, depends_on) VALUES ('x', ARRAY[%(ref)s]::uuid[])"),
    "tasks.blocks -> tasks": ("task1", "INSERT INTO public.tasks (title, blocks) VALUES ('x', ARRAY[%(ref)s]::uuid[])"),
    "ai_analyses.document_id -> documents": (
        "doc", "INSERT INTO public.ai_analyses (document_id, type, model, results) VALUES (%(ref)s, 'valuation', 'm', '{}')"),
    "valuations.comparables -> deals": (
        "deal", "INSERT INTO public.valuations (method, base_value, assumptions, comparables) "
                "VALUES ('dcf', 1, '{}', ARRAY[%(ref)s]::uuid[])"),
    "activity_timeline.deal_id -> deals": (
        "deal", "INSERT INTO public.activity_timeline (time, deal_id, event_type) VALUES (now(), %(ref)s, 'x')"),
    "comments.mentions -> users": (
        "user1", "INSERT INTO public.comments (commentable_type, commentable_id, content, mentions) "
                 "VALUES ('deal', %(a_deal)s, 'x', ARRAY[%(ref)s]::uuid[])"),
    "comments.commentable_id -> deals (polymorphic)": (
        "deal", "INSERT INTO public.comments (commentable_type, commentable_id, content) VALUES ('deal', %(ref)s, 'x')"),
    "presence.resource_id -> documents (polymorphic)": (
        "doc", "INSERT INTO public.presence (user_id, resource_type, resource_id) VALUES (%(a_user1)s, 'document', %(ref)s)"),
    "notifications.resource_id -> tasks (polymorphic)": (
        "task1", "INSERT INTO public.notifications (type, title, resource_type, resource_id) "
                 "VALUES ('x', 'x', 'task', %(ref)s)"),
    "documents.locked_by -> users (update)": (
        "user1", "UPDATE public.documents SET locked_by = %(ref)s WHERE id = %(a_doc)s"),
}


@pytest.mark.parametrize("case", REFERENCES)
def test_a_reference_to_another_tenants_row_fails_exactly_like_one_to_no_row(conn, db, case):
    _, a, b = db
    kind, stmt = REFERENCES[case]
    errors = {}
    for label, ref in (("b", b[kind]), ("none", uuid.uuid4())):
        params = {"ref": ref, **{f"a_{k}": v for k, v in a.items()}}
        with acting_as(conn, APP, a["tenant"]):
            _, err = attempt(conn, stmt, params)
        assert err is not None, f"{case}: a reference to {label} was accepted"
        # The id the caller passed may be echoed; nothing else may differ.
        text = "\n".join(filter(None, [err.diag.message_primary, err.diag.message_detail])).replace(str(ref), "<id>")
        errors[label] = (err.sqlstate, text)
    assert errors["b"][0] == "23503", errors
    assert errors["b"] == errors["none"]


def test_the_same_references_inside_the_tenant_are_accepted(conn, db):
    _, a, _ = db
    with acting_as(conn, APP, a["tenant"]):
        for case, (kind, stmt) in REFERENCES.items():
            _, err = attempt(conn, stmt, {"ref": a[kind], **{f"a_{k}": v for k, v in a.items()}})
            # a second membership or presence of the same pair is a duplicate, not an isolation error
            assert err is None or err.sqlstate == "23505", f"{case}: {err}"


def test_an_unknown_polymorphic_resource_type_is_refused_with_the_known_types(conn, db):
    _, a, _ = db
    with acting_as(conn, APP, a["tenant"]):
        _, err = attempt(conn, "INSERT INTO public.comments (commentable_type, commentable_id, content) "
                               "VALUES ('invoice', %s, 'x')", [a["deal"]])
    assert err.sqlstate == "23503"
    assert "'invoice' is not a known resource type" in err.diag.message_detail
    assert "deal" in err.diag.message_hint


def test_every_foreign_key_between_tenant_tables_carries_tenant_id(conn, tables):
    """Catalog-wide: a key on x_id alone would let a row reference another tenant's row."""
    bad = conn.execute("""
        SELECT conname, conrelid::regclass::text, confrelid::regclass::text
        FROM pg_constraint c
        WHERE contype = 'f' AND conrelid = ANY(%(t)s::regclass[]) AND confrelid = ANY(%(t)s::regclass[])
          AND confrelid <> 'public.tenants'::regclass
          AND NOT ((SELECT attname FROM pg_attribute WHERE attrelid = conrelid AND attnum = conkey[1]) = 'tenant_id'
                   AND (SELECT attname FROM pg_attribute WHERE attrelid = confrelid AND attnum = confkey[1]) = 'tenant_id')
        """, {"t": tables}).fetchall()
    assert bad == []


def test_every_id_array_the_app_can_write_is_checked_by_same_tenant_triggers(conn, tables):
    arrays = conn.execute("""
        SELECT a.attrelid::regclass::text, a.attname FROM pg_attribute a
        WHERE a.attrelid = ANY(%s::regclass[]) AND a.atttypid = 'uuid[]'::regtype AND NOT a.attisdropped
          AND (has_table_privilege('maplatform_app', a.attrelid, 'INSERT')
               OR has_table_privilege('maplatform_app', a.attrelid, 'UPDATE'))""", [tables]).fetchall()
    assert len(arrays) >= 8
    unchecked = []
    for table, column in arrays:
        events = {r[0] for r in conn.execute("""
            SELECT CASE WHEN tgtype & 4 <> 0 THEN 'insert' WHEN tgtype & 16 <> 0 THEN 'update' END
            FROM pg_trigger WHERE tgrelid = %s::regclass AND tgfoid = 'app.enforce_same_tenant_ids'::regproc
              AND split_part(encode(tgargs, 'escape'), '\\000', 1) = %s""", [table, column])}
        if events != {"insert", "update"}:
            unchecked.append((table, column, events))
    assert unchecked == []


# --- materialized views, monitoring views, roles ------------------------------------------------

@pytest.mark.parametrize("mv", ["public.pipeline_analytics", "timeline.daily_activity_summary"])
def test_materialized_views_are_not_readable_by_the_app(conn, db, mv):
    _, a, _ = db
    with acting_as(conn, APP, a["tenant"]):
        _, err = attempt(conn, f"SELECT * FROM {mv}")
    assert err.sqlstate == BLOCKED


@pytest.mark.parametrize("view, mv", [("public.tenant_pipeline_analytics", "public.pipeline_analytics"),
                                      ("public.tenant_daily_activity_summary", "timeline.daily_activity_summary")])
def test_tenant_filtered_views_return_only_the_current_tenants_rows(conn, db, view, mv):
    _, a, b = db
    both = conn.execute(f"SELECT count(DISTINCT tenant_id) FROM {mv} WHERE tenant_id IN (%s, %s)",
                        [a["tenant"], b["tenant"]]).fetchone()[0]
    assert both == 2, "the materialized view must hold both tenants for this test to mean anything"
    with acting_as(conn, APP, a["tenant"]):
        tenants = {r[0] for r in conn.execute(f"SELECT tenant_id FROM {view}")}
        assert tenants == {a["tenant"]}
    with acting_as(conn, APP):
        assert conn.execute(f"SELECT count(*) FROM {view}").fetchone()[0] == 0


def test_tenant_views_are_security_barrier_views(conn):
    opts = dict(conn.execute("""SELECT c.relname, c.reloptions FROM pg_class c
                                WHERE c.oid IN ('public.tenant_pipeline_analytics'::regclass,
                                                'public.tenant_daily_activity_summary'::regclass)"""))
    assert all("security_barrier=true" in o for o in opts.values()), opts


@pytest.mark.parametrize("role", [APP, READONLY])
def test_slow_queries_and_other_monitoring_views_are_denied_to_application_roles(conn, role):
    with acting_as(conn, role):
        for view in ("ops.slow_queries", "ops.table_bloat", "ops.connection_stats"):
            _, err = attempt(conn, f"SELECT * FROM {view}")
            assert err.sqlstate == BLOCKED, view


def test_ops_reads_slow_queries_with_every_statement_text(conn):
    conn.execute("SELECT pg_sleep(0.12) AS slow_probe_for_ops")
    with acting_as(conn, OPS):
        texts = [r[0] for r in conn.execute("SELECT query FROM ops.slow_queries")]
    assert any("slow_probe_for_ops" in t for t in texts), texts  # not "<insufficient privilege>"


def test_the_app_role_can_reach_no_timescaledb_chunk(conn):
    chunks = [r[0] for r in conn.execute("SELECT show_chunks('timeline.activity_timeline')::text")]
    assert chunks, "the seed writes activity_timeline rows, so there is a chunk"
    with acting_as(conn, APP):
        for chunk in chunks:
            _, err = attempt(conn, f"SELECT count(*) FROM {chunk}")
            assert err.sqlstate == BLOCKED and "schema timeline_chunks" in err.diag.message_primary


def test_the_app_role_owns_nothing_and_bypasses_nothing(conn):
    attrs = conn.execute("SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = %s",
                         [APP]).fetchone()
    assert attrs == (False, False, False)
    owned = conn.execute("""SELECT count(*) FROM pg_class WHERE relowner = %s::regrole""", [APP]).fetchone()[0]
    assert owned == 0


def test_the_app_role_cannot_execute_maintenance_functions(conn):
    with acting_as(conn, APP):
        for fn in ("ops.cleanup_sessions()", "ops.archive_activities()", "ops.refresh_pipeline_analytics()"):
            _, err = attempt(conn, f"SELECT {fn}")
            assert err.sqlstate == BLOCKED, fn


# --- tenant context ------------------------------------------------------------------------------

@pytest.mark.parametrize("forged", ["set_config('app.current_tenant', %(b)s, true)",
                                    "set_config('app.tenant_token', 'v1.' || %(b)s || '.9999999999.test.' || "
                                    "repeat('0', 64), true)"])
def test_setting_the_tenant_without_a_verified_token_reaches_no_tenant(conn, db, tables, forged):
    """What SQL injected into the application could try: name tenant B in the settings directly."""
    _, a, b = db
    seen = {}
    with acting_as(conn, APP):
        conn.execute(f"SELECT {forged}", {"b": str(b["tenant"])})
        for table in tables:
            rows, err = attempt(conn, sql.SQL("SELECT count(*) FROM {}").format(_ident(table)))
            seen[table] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(table))).fetchone()[0] \
                if err is None else err.sqlstate
        _, write = attempt(conn, "INSERT INTO public.pipeline_stages (name, display_name, order_index) "
                                 "VALUES ('x', 'X', 99)")
    assert {t: n for t, n in seen.items() if n != 0} == {}
    assert write is not None and write.sqlstate in ("28T05", BLOCKED), write


def test_set_tenant_context_lasts_one_transaction(db, conn_to):
    url, a, _ = db
    token = tenant_token(conn_to(url), a["tenant"])
    c = psycopg.connect(url)  # not autocommit: two explicit transactions on one connection
    try:
        c.execute(f"SET ROLE {APP}")
        c.execute("SELECT public.set_tenant_context(%s)", [token])
        first = c.execute("SELECT count(*) FROM public.deals").fetchone()[0]
        c.commit()
        second = c.execute("SELECT count(*) FROM public.deals").fetchone()[0]
        c.commit()
    finally:
        c.close()
    assert (first, second) == (1, 0)


def test_set_tenant_context_for_session_lasts_the_session(db, conn_to):
    url, a, _ = db
    token = tenant_token(conn_to(url), a["tenant"])
    c = psycopg.connect(url)
    try:
        c.execute(f"SET ROLE {APP}")
        c.execute("SELECT public.set_tenant_context_for_session(%s)", [token])
        c.commit()
        counts = []
        for _ in range(2):
            counts.append(c.execute("SELECT count(*) FROM public.deals").fetchone()[0])
            c.commit()
    finally:
        c.close()
    assert counts == [1, 1]


def test_set_tenant_context_null_clears_the_tenant(conn, db):
    _, a, _ = db
    with acting_as(conn, APP, a["tenant"]):
        conn.execute("SELECT public.set_tenant_context(NULL)")
        assert conn.execute("SELECT count(*) FROM public.deals").fetchone()[0] == 0


def test_new_rows_take_the_tenant_from_the_context(conn, db):
    _, a, _ = db
    with acting_as(conn, APP, a["tenant"]):
        tenant = conn.execute("INSERT INTO public.deals (name) VALUES ('context') RETURNING tenant_id").fetchone()[0]
    assert tenant == a["tenant"]


def test_error_messages_name_no_other_tenant(conn, db):
    """The same-tenant trigger's message carries only the caller's own id and the table names."""
    _, a, b = db
    with acting_as(conn, APP, a["tenant"]):
        _, err = attempt(conn, "INSERT INTO public.tasks (title, depends_on) VALUES ('x', ARRAY[%s]::uuid[])",
                         [b["task1"]])
    text = " ".join(filter(None, [err.diag.message_primary, err.diag.message_detail]))
    assert str(b["tenant"]) not in text
    assert re.search(r"is not the id of a row of public\.tasks of the same tenant", text)


def test_default_privileges_make_later_objects_follow(conn):
    """A table a later migration creates in public is the app's to use under RLS (DML, nothing more);
    a later function is executable by nobody until granted."""
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL ROLE maplatform_owner")
        conn.execute("CREATE TABLE public.later_probe (id int)")
        conn.execute("CREATE FUNCTION public.later_probe_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        privileges = {
            f"{role}:{p}": conn.execute("SELECT has_table_privilege(%s, 'public.later_probe', %s)", [role, p]).fetchone()[0]
            for role, p in [(APP, "SELECT"), (APP, "INSERT"), (APP, "UPDATE"), (APP, "DELETE"), (APP, "TRUNCATE"),
                            (READONLY, "SELECT"), (READONLY, "INSERT")]}
        executable = conn.execute("SELECT has_function_privilege(%s, 'public.later_probe_fn()', 'EXECUTE')",
                                  [APP]).fetchone()[0]
    assert privileges == {f"{APP}:SELECT": True, f"{APP}:INSERT": True, f"{APP}:UPDATE": True,
                          f"{APP}:DELETE": True, f"{APP}:TRUNCATE": False,
                          f"{READONLY}:SELECT": True, f"{READONLY}:INSERT": False}
    assert executable is False


# --- what the review got through (issue 12) ------------------------------------------------------

@pytest.mark.parametrize("role", [APP, READONLY, "dbtool_nobody"])
def test_no_role_can_drop_a_chunk_through_timescaledbs_internal_functions(conn, role):
    """TimescaleDB 2.19's internal drop_chunk checks no privilege: by chunk oid (readable by anyone
    from pg_class) any role, even one with no grant at all, dropped every tenant's events."""
    conn.execute("DO $$BEGIN CREATE ROLE dbtool_nobody NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$")
    oid = conn.execute("SELECT c::oid FROM show_chunks('timeline.activity_timeline') AS c LIMIT 1").fetchone()[0]
    before = conn.execute("SELECT count(*) FROM timeline.activity_timeline").fetchone()[0]
    errors = {}
    with acting_as(conn, role):
        for fn in ("_timescaledb_functions.drop_chunk", "_timescaledb_internal.drop_chunk",
                   "_timescaledb_functions.freeze_chunk"):
            _, err = attempt(conn, f"SELECT {fn}(%s::oid::regclass)", [oid])
            errors[fn] = err.sqlstate if err else "ALLOWED"
    assert errors == dict.fromkeys(errors, BLOCKED)
    assert conn.execute("SELECT count(*) FROM timeline.activity_timeline").fetchone()[0] == before


def test_pg_stats_shows_the_app_no_statistics_of_tenant_data(conn, tables):
    """Chunks copied the hypertable's grants without its row-level security, and pg_stats needs only
    SELECT: the application read every tenant's most common values there."""
    conn.execute("ANALYZE")
    with acting_as(conn, APP):
        visible = conn.execute("""SELECT DISTINCT s.schemaname || '.' || s.tablename FROM pg_stats s
                                  JOIN pg_namespace n ON n.nspname = s.schemaname
                                  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
                                  WHERE EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                                                AND a.attname = 'tenant_id')""").fetchall()
        tenant_columns = conn.execute("SELECT count(*) FROM pg_stats WHERE attname = 'tenant_id'").fetchone()[0]
    assert visible == [] and tenant_columns == 0


def test_the_app_cannot_call_pg_stat_statements(conn):
    with acting_as(conn, APP):
        _, err = attempt(conn, "SELECT count(*) FROM public.pg_stat_statements(true)")
    assert err.sqlstate == BLOCKED
