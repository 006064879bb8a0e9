"""Deleting a user, a folder or a deal clears the references to it as ON DELETE SET NULL (column) did,
now that the keys have no action and ops.set_null_on_delete() does it (0031-0032, docs/citus.md: Citus
refuses the SET NULL keys). Each scenario runs on two databases holding the same rows, one at head and
one rolled back to 0030 (the SET NULL keys), and must leave the same rows there, or fail the same way;
other tenants' rows, with the very same ids, are never touched; the keys still refuse a reference to
nothing or to another tenant's row."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from dbtool.commands.rollback import rollback
from schema_support import APP, acting_as, attempt, edition, seed_tenant

# What a scenario may change, read as the superuser: every row of the referenced and referencing
# tables (updated_at left out: tasks' trigger sets it to the time of the transaction, which differs).
TABLES = ["public.users", "public.deals", "public.document_folders", "public.documents", "public.activities",
          "public.activities_archive", "public.tasks", "public.notifications", "timeline.activity_timeline"]


def _rows(conn: psycopg.Connection) -> dict[str, list]:
    return {t: [r[0] for r in conn.execute(
        f"SELECT j FROM (SELECT to_jsonb(x) - 'updated_at' AS j FROM {t} AS x) AS s ORDER BY j::text")] for t in TABLES}


def _extra_rows(conn: psycopg.Connection, t: dict, same_ids: dict | None = None) -> dict:
    """A user referenced only by the SET NULL keys (and a notification, which cascades), a second deal
    with a document in the first deal's folder, and a subfolder with a document. With `same_ids`, the
    rows take those ids (another tenant's), as the keys per tenant allow since 0030."""
    ids = same_ids or {k: uuid.uuid4() for k in ("leaver", "deal2", "subfolder")}
    p = {**t, **ids, "t": t["tenant"]}
    conn.execute("""INSERT INTO public.users (id, tenant_id, clerk_id, email)
                    VALUES (%(leaver)s, %(t)s, 'leaver-' || %(t)s, 'leaver@' || %(t)s || '.example')""", p)
    conn.execute("INSERT INTO public.deals (id, tenant_id, name) VALUES (%(deal2)s, %(t)s, 'Second deal')", p)
    conn.execute("""INSERT INTO public.document_folders (id, tenant_id, deal_id, parent_id, name, path)
                    VALUES (%(subfolder)s, %(t)s, %(deal)s, %(folder)s, 'Audit', '/financials/audit')""", p)
    conn.execute("""INSERT INTO public.documents (tenant_id, deal_id, folder_id, name, storage_key) VALUES
                    (%(t)s, %(deal2)s, %(folder)s, 'Other deal.pdf', 'tenants/' || %(t)s || '/k-' || gen_random_uuid()),
                    (%(t)s, %(deal)s, %(subfolder)s, 'Audit.pdf', 'tenants/' || %(t)s || '/k-' || gen_random_uuid())""", p)
    conn.execute("""INSERT INTO public.activities (tenant_id, deal_id, user_id, type, title)
                    VALUES (%(t)s, %(deal2)s, %(leaver)s, 'call', 'Call by the leaver')""", p)
    conn.execute("""INSERT INTO public.activities_archive (id, tenant_id, user_id, type, title, occurred_at)
                    VALUES (gen_random_uuid(), %(t)s, %(leaver)s, 'note', 'Old note', now() - INTERVAL '2 years')""", p)
    conn.execute("""INSERT INTO public.tasks (tenant_id, deal_id, title, assigned_to)
                    VALUES (%(t)s, %(deal2)s, 'Leaver''s task', %(leaver)s)""", p)
    conn.execute("""INSERT INTO timeline.activity_timeline (time, tenant_id, user_id, deal_id, event_type) VALUES
                    (now(), %(t)s, %(leaver)s, %(deal2)s, 'call_logged'), (now(), %(t)s, %(user1)s, %(deal)s, 'x')""", p)
    conn.execute("""INSERT INTO public.notifications (tenant_id, user_id, type, title)
                    VALUES (%(t)s, %(leaver)s, 'mention', 'Hello')""", p)
    return ids


@pytest.fixture(scope="module")
def dbs(server, project):
    """The same rows in two databases: (head, at 0030) URLs and tenant A's and B's ids. B has rows with
    A's ids (its own user, deal and folder, each with A's id) and references to them."""
    name = f"setnull_{os.getpid()}"
    head = server.create_db(name, template=server.template)
    try:
        with psycopg.connect(head, autocommit=True) as c:
            a, b = seed_tenant(c, "setnull-a"), seed_tenant(c, "setnull-b")
            a.update(_extra_rows(c, a))
            b_own = {k: b[k] for k in ("deal", "folder", "user1")}
            c.execute("""INSERT INTO public.users (id, tenant_id, clerk_id, email) VALUES
                         (%(id)s, %(t)s, 'b-twin', 'twin@b.example')""", {"id": a["user1"], "t": b["tenant"]})
            c.execute("INSERT INTO public.deals (id, tenant_id, name) VALUES (%s, %s, 'Twin deal')",
                      [a["deal"], b["tenant"]])
            c.execute("""INSERT INTO public.document_folders (id, tenant_id, deal_id, name, path)
                         VALUES (%s, %s, %s, 'Twin folder', '/twin')""", [a["folder"], b["tenant"], a["deal"]])
            twin = {**b, "deal": a["deal"], "folder": a["folder"], "user1": a["user1"]}
            b.update(_extra_rows(c, twin, {k: a[k] for k in ("leaver", "deal2", "subfolder")}))
            b.update({f"own_{k}": v for k, v in b_own.items()})
        old = server.create_db(name + "_0030", template=name)
        try:
            rollback(old, project, to="0030", sync_cron=False)
            yield head, old, a, b
        finally:
            server.drop_db(name + "_0030")
    finally:
        server.drop_db(name)


# name -> (who: APP for the application in tenant A, None for the superuser without a tenant, statements)
SCENARIOS = {
    "the application deletes a user": (APP, ["DELETE FROM public.users WHERE id = %(leaver)s"]),
    "a superuser without a tenant deletes a user": (
        None, ["DELETE FROM public.users WHERE tenant_id = %(tenant)s AND id = %(leaver)s"]),
    "the application deletes a folder and so its subfolder": (
        APP, ["DELETE FROM public.document_folders WHERE id = %(folder)s"]),
    "the application deletes a deal and so its folders": (APP, ["DELETE FROM public.deals WHERE id = %(deal)s"]),
    "a deal deleted after its documents were written in the same transaction": (
        APP, ["UPDATE public.documents SET access_count = access_count + 1",
              "DELETE FROM public.deals WHERE id = %(deal)s"]),
    "a tenant deleted after its rows were written in the same transaction": (
        None, ["UPDATE public.activities SET title = title || '.' WHERE tenant_id = %(tenant)s",
               "UPDATE timeline.activity_timeline SET event_type = event_type WHERE tenant_id = %(tenant)s",
               "DELETE FROM public.tenants WHERE id = %(tenant)s"]),
    "a user another key still refers to is not deleted": (APP, ["DELETE FROM public.users WHERE id = %(user1)s"]),
    "users of several tenants deleted in one statement": (
        None, ["DELETE FROM public.users WHERE id = %(leaver)s"]),
}


def _outcome(url: str, who, statements: list[str], ids: dict) -> tuple:
    """What the scenario leaves (every row) and how it failed, if it did; rolled back."""
    with psycopg.connect(url) as conn:
        with (acting_as(conn, who, ids["tenant"]) if who else conn.transaction(force_rollback=True)):
            failed = None
            for stmt in statements:
                _, err = attempt(conn, stmt, ids)
                if err is not None:
                    failed = (err.sqlstate, err.diag.constraint_name)
                    break
            conn.execute("RESET ROLE")
            return failed, _rows(conn)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_delete_leaves_the_rows_the_set_null_keys_left(dbs, scenario):
    head, old, a, _ = dbs
    who, statements = SCENARIOS[scenario]
    now, before = _outcome(head, who, statements, a), _outcome(old, who, statements, a)
    assert now[0] == before[0]
    for table in TABLES:
        assert now[1][table] == before[1][table], f"{scenario}: {table} differs from the SET NULL keys' result"


def _refs(rows: dict, table: str, column: str, tenant) -> list:
    return sorted(str(r[column]) for r in rows[table] if r["tenant_id"] == str(tenant))


def test_deleting_a_user_clears_its_references_in_its_tenant_and_none_of_another(dbs):
    head, _, a, b = dbs
    failed, rows = _outcome(head, APP, ["DELETE FROM public.users WHERE id = %(leaver)s"], a)
    assert failed is None
    leaver = str(a["leaver"])  # b's leaver has the same id
    for table, column in [("public.activities", "user_id"), ("public.activities_archive", "user_id"),
                          ("public.tasks", "assigned_to"), ("timeline.activity_timeline", "user_id")]:
        assert leaver not in _refs(rows, table, column, a["tenant"]), table
        assert leaver in _refs(rows, table, column, b["tenant"]), f"{table}: another tenant's reference was cleared"
    assert "None" in _refs(rows, "public.activities", "user_id", a["tenant"])  # the row stays, without its user
    assert leaver not in _refs(rows, "public.notifications", "user_id", a["tenant"])  # cascades as before


def test_deleting_a_folder_or_a_deal_clears_its_references_in_its_tenant_and_none_of_another(dbs):
    head, _, a, b = dbs
    _, rows = _outcome(head, APP, ["DELETE FROM public.document_folders WHERE id = %(folder)s"], a)
    folders = {str(a["folder"]), str(a["subfolder"])}
    assert not folders & set(_refs(rows, "public.documents", "folder_id", a["tenant"]))
    assert folders <= set(_refs(rows, "public.documents", "folder_id", b["tenant"]))
    _, rows = _outcome(head, APP, ["DELETE FROM public.deals WHERE id = %(deal2)s"], a)
    assert str(a["deal2"]) not in _refs(rows, "timeline.activity_timeline", "deal_id", a["tenant"])
    assert str(a["deal2"]) in _refs(rows, "timeline.activity_timeline", "deal_id", b["tenant"])


@pytest.mark.parametrize("constraint, insert", [
    ("activities_tenant_id_user_id_fkey",
     "INSERT INTO public.activities (tenant_id, user_id, type, title) VALUES (%(tenant)s, %(ref)s, 'note', 'x')"),
    ("activities_archive_tenant_id_user_id_fkey",
     "INSERT INTO public.activities_archive (id, tenant_id, user_id, type, title) "
     "VALUES (gen_random_uuid(), %(tenant)s, %(ref)s, 'note', 'x')"),
    ("tasks_tenant_id_assigned_to_fkey",
     "INSERT INTO public.tasks (tenant_id, title, assigned_to) VALUES (%(tenant)s, 'x', %(ref)s)"),
    ("documents_tenant_id_folder_id_fkey",
     "INSERT INTO public.documents (tenant_id, name, storage_key, folder_id) VALUES (%(tenant)s, 'x', 'tenants/' || %(tenant)s || '/k-x', %(ref)s)"),
    ("activity_timeline_tenant_id_user_id_fkey",
     "INSERT INTO timeline.activity_timeline (time, tenant_id, user_id, event_type) VALUES (now(), %(tenant)s, %(ref)s, 'x')"),
    ("activity_timeline_tenant_id_deal_id_fkey",
     "INSERT INTO timeline.activity_timeline (time, tenant_id, deal_id, event_type) VALUES (now(), %(tenant)s, %(ref)s, 'x')"),
])
@pytest.mark.parametrize("target", ["nothing", "another tenant's row"])
def test_the_keys_still_refuse_a_reference_to_nothing_or_to_another_tenants_row(dbs, constraint, insert, target):
    head, _, a, b = dbs
    column = "folder" if "folder" in constraint else "deal" if "deal_id" in constraint else "user1"
    ref = uuid.uuid4() if target == "nothing" else b[f"own_{column}"]
    with psycopg.connect(head) as conn, conn.transaction(force_rollback=True):
        _, err = attempt(conn, insert, {"tenant": a["tenant"], "ref": ref})
    assert isinstance(err, psycopg.errors.ForeignKeyViolation)
    assert err.diag.constraint_name.endswith(constraint)


def test_no_tenant_facing_role_may_call_the_trigger_function(dbs):
    with psycopg.connect(dbs[0]) as conn:
        allowed = conn.execute("""SELECT r.rolname FROM pg_roles AS r
                                  WHERE has_function_privilege(r.oid, 'ops.set_null_on_delete()', 'EXECUTE')
                                    AND r.rolname LIKE 'maplatform%%' ORDER BY 1""").fetchall()
    assert [r[0] for r in allowed] == ["maplatform_maintenance", "maplatform_owner"]


def test_deleting_a_user_clears_its_events_in_compressed_chunks_which_the_set_null_key_left_behind(dbs):
    """The community edition compresses the timeline after 7 days; the key's action updated only the
    chunk's own table, where compressed rows are not, and left the events pointing at the deleted user."""
    head, old, a, b = dbs
    with psycopg.connect(head) as conn:
        if edition(conn) != "timescale":
            pytest.skip("compression is the community edition's (timescaledb.license = 'timescale')")
    found = {}
    for label, url in [("head", head), ("0030", old)]:
        with psycopg.connect(url) as conn, conn.transaction(force_rollback=True):
            for t in (a, b):
                conn.execute("""INSERT INTO timeline.activity_timeline (time, tenant_id, user_id, event_type)
                                VALUES (now() - INTERVAL '30 days', %s, %s, 'old_call')""", [t["tenant"], a["leaver"]])
            conn.execute("""SELECT public.compress_chunk(c) FROM public.show_chunks('timeline.activity_timeline',
                            older_than => INTERVAL '20 days') AS c""")
            conn.execute("DELETE FROM public.users WHERE tenant_id = %s AND id = %s", [a["tenant"], a["leaver"]])
            found[label] = dict(conn.execute("""SELECT tenant_id, user_id FROM timeline.activity_timeline
                                                WHERE event_type = 'old_call'""").fetchall())
    assert found["head"] == {a["tenant"]: None, b["tenant"]: a["leaver"]}
    assert found["0030"] == {a["tenant"]: a["leaver"], b["tenant"]: a["leaver"]}
