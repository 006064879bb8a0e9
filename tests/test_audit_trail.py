"""The application's audit trail (migration 0023, docs/audit.md): data-room access, document views
and downloads, permission grants, changes and revocations, and tenant tokens registered, per tenant,
append-only. Run as the application role with a tenant's token, as the application would."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from schema_support import APP, OWNER, acting_as, attempt, cloned_db, seed_tenant, tenant_token

REFUSED = "42501"
AUDIT_OWNER = "maplatform_audit_owner"


@pytest.fixture(scope="module")
def db(server):
    with cloned_db(server, "audit_trail") as url:
        with psycopg.connect(url, autocommit=True) as c:
            a, b = seed_tenant(c, "tenant-a"), seed_tenant(c, "tenant-b")
        yield url, a, b


@pytest.fixture
def conn(db, conn_to):
    return conn_to(db[0])


def trail(conn, tenant) -> list[tuple]:
    """(event_type, actor_id, subject_id) of the tenant's entries, oldest first, read through the
    tenant's view as the application role; without the registrations of the tokens these reads
    mint (a token minted in the same second as an earlier one is that one, registered already)."""
    with acting_as(conn, APP, tenant):
        return conn.execute("SELECT event_type, actor_id, subject_id FROM public.audit_events "
                            "WHERE event_type <> 'tenant_context_registered' ORDER BY time").fetchall()


def test_opening_a_room_and_viewing_and_downloading_a_document_are_recorded(conn, db):
    _, a, _ = db
    with acting_as(conn, APP, a["tenant"], keep=True):
        conn.execute("SELECT public.record_data_room_access(%s, %s)", [a["room"], a["user2"]])
        conn.execute("SELECT public.record_document_access(%s, %s)", [a["doc"], a["user2"]])
        conn.execute("SELECT public.record_document_access(%s, %s, 'download')", [a["doc"], a["user2"]])
    entries = trail(conn, a["tenant"])
    assert ("data_room_opened", a["user2"], a["room"]) in entries
    assert ("document_viewed", a["user2"], a["doc"]) in entries
    assert ("document_downloaded", a["user2"], a["doc"]) in entries


def test_a_tenant_reads_only_its_own_entries_and_never_the_table(conn, db):
    _, a, b = db
    with acting_as(conn, APP, b["tenant"], keep=True):
        conn.execute("SELECT public.record_document_access(%s, %s, 'print')", [b["doc"], b["user1"]])
    assert ("document_printed", b["user1"], b["doc"]) in trail(conn, b["tenant"])
    assert {subject for _, _, subject in trail(conn, a["tenant"])}.isdisjoint({b["doc"], b["room"]})
    with acting_as(conn, APP, a["tenant"]):
        assert {r[0] for r in conn.execute("SELECT DISTINCT tenant_id FROM public.audit_events")} == {a["tenant"]}
        rows, err = attempt(conn, "SELECT count(*) FROM audit.events")
        assert err is not None and err.sqlstate == REFUSED
    with acting_as(conn, APP):  # no tenant: nothing
        assert conn.execute("SELECT count(*) FROM public.audit_events").fetchone()[0] == 0


@pytest.mark.parametrize("call", [
    "SELECT public.record_data_room_access(%(b_room)s, %(a_user)s)",
    "SELECT public.record_document_access(%(b_doc)s, %(a_user)s, 'download')",
    "SELECT public.record_document_access(%(a_doc)s, %(b_user)s)",
], ids=["another tenant's room", "another tenant's document", "another tenant's user"])
def test_an_entry_naming_another_tenants_room_document_or_user_is_refused(conn, db, call):
    _, a, b = db
    params = {"a_user": a["user1"], "a_doc": a["doc"], "b_room": b["room"], "b_doc": b["doc"], "b_user": b["user1"]}
    before = trail(conn, b["tenant"])
    with acting_as(conn, APP, a["tenant"]):
        _, err = attempt(conn, call, params)
    assert err is not None and err.sqlstate == "23503" and "tenant" in str(err)
    assert trail(conn, b["tenant"]) == before


def test_an_unknown_event_type_is_refused_by_the_tables_check(conn, db):
    _, a, _ = db
    _, err = attempt(conn, "INSERT INTO audit.events (tenant_id, event_type) VALUES (%s, 'document_deleted')",
                     [a["tenant"]])
    assert isinstance(err, psycopg.errors.CheckViolation) and err.diag.constraint_name == "events_event_type_check"


def test_recording_needs_a_tenant_and_a_known_action(conn, db):
    _, a, _ = db
    with acting_as(conn, APP):
        _, err = attempt(conn, "SELECT public.record_data_room_access(%s, %s)", [a["room"], a["user1"]])
    assert err is not None and err.sqlstate == REFUSED and "no tenant context" in str(err)
    with acting_as(conn, APP, a["tenant"]):
        _, err = attempt(conn, "SELECT public.record_document_access(%s, %s, 'copy')", [a["doc"], a["user1"]])
    assert err is not None and err.sqlstate == "22023"


def test_permission_grants_changes_and_revocations_are_recorded_and_access_counters_are_not(conn, db):
    _, a, _ = db
    perm = uuid.uuid4()
    with acting_as(conn, APP, a["tenant"], keep=True):
        conn.execute("SELECT set_config('app.actor_id', %s, true)", [str(a["user1"])])
        conn.execute("INSERT INTO public.data_room_permissions (id, data_room_id, user_id, granted_by) "
                     "VALUES (%s, %s, %s, %s)", [perm, a["room"], a["user1"], a["user1"]])
        conn.execute("UPDATE public.data_room_permissions SET access_count = access_count + 1, "
                     "last_accessed_at = now() WHERE id = %s", [perm])
        conn.execute("UPDATE public.data_room_permissions SET can_download = true WHERE id = %s", [perm])
        conn.execute("DELETE FROM public.data_room_permissions WHERE id = %s", [perm])
    with acting_as(conn, APP, a["tenant"]):
        rows = conn.execute("SELECT event_type, actor_id, details FROM public.audit_events WHERE subject_id = %s "
                            "ORDER BY time", [perm]).fetchall()
    assert [r[0] for r in rows] == ["permission_granted", "permission_changed", "permission_revoked"]
    assert {r[1] for r in rows} == {a["user1"]}
    changed = rows[1][2]
    assert changed["before"]["can_download"] is False and changed["after"]["can_download"] is True


def test_registering_a_tenant_token_is_recorded_with_its_key(conn, db):
    _, a, _ = db
    with conn.transaction():
        token = tenant_token(conn, a["tenant"], ttl="97 minutes")  # minted and registered, as an operator does
    expires = int(token.split(".")[2])
    with acting_as(conn, APP, a["tenant"]):
        found = conn.execute("SELECT details FROM public.audit_events WHERE event_type = 'tenant_context_registered' "
                             "AND (details ->> 'expires_at')::timestamptz = to_timestamp(%s)", [expires]).fetchall()
    assert [d["key_id"] for (d,) in found] == ["test"]


@pytest.mark.parametrize("role", [APP, OWNER])
@pytest.mark.parametrize("statement", [
    "UPDATE audit.events SET event_type = 'document_viewed'",
    "DELETE FROM audit.events",
    "TRUNCATE audit.events",
])
def test_neither_the_application_nor_the_owner_role_updates_deletes_or_truncates_the_trail(conn, db, role, statement):
    _, a, _ = db
    before = conn.execute("SELECT count(*) FROM audit.events").fetchone()[0]
    with acting_as(conn, role, a["tenant"]):
        _, err = attempt(conn, statement)
    assert err is not None and err.sqlstate == REFUSED, statement
    assert conn.execute("SELECT count(*) FROM audit.events").fetchone()[0] == before


@pytest.mark.parametrize("statement", ["DELETE FROM audit.events", "TRUNCATE audit.events",
                                       "UPDATE audit.events SET actor_id = NULL"])
def test_even_the_trails_own_role_cannot_change_an_entry(conn, db, statement):
    with acting_as(conn, AUDIT_OWNER):
        _, err = attempt(conn, statement)
    assert err is not None and err.sqlstate == REFUSED and "append-only" in str(err)


def test_the_application_cannot_change_the_trail_through_its_view(conn, db):
    _, a, _ = db
    for statement in ("DELETE FROM public.audit_events",
                      "UPDATE public.audit_events SET actor_id = NULL",
                      "INSERT INTO public.audit_events (tenant_id, event_type) "
                      f"VALUES ('{a['tenant']}', 'document_viewed')"):
        with acting_as(conn, APP, a["tenant"]):
            _, err = attempt(conn, statement)
        assert err is not None and err.sqlstate == REFUSED, statement


@pytest.mark.parametrize("statement", [
    "DELETE FROM {chunk}",
    "TRUNCATE {chunk}",
    "SELECT _timescaledb_functions.drop_chunk('{chunk}')",
    "SELECT public.drop_chunks('audit.events', newer_than => now() - INTERVAL '100 years')",
    "ALTER TABLE audit.events DISABLE TRIGGER events_append_only",
])
def test_the_owner_role_reaches_no_chunk_of_the_trail(conn, db, statement):
    """TimescaleDB copies only the row trigger to chunks, and its internal drop_chunk checks no
    privilege: the owner role neither owns the trail nor may call drop_chunk (0023)."""
    chunk = conn.execute("SELECT format('%I.%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks "
                         "WHERE hypertable_schema = 'audit' LIMIT 1").fetchone()[0]
    before = conn.execute("SELECT count(*) FROM audit.events").fetchone()[0]
    with acting_as(conn, OWNER):
        _, err = attempt(conn, statement.format(chunk=chunk))
    assert err is not None and err.sqlstate in (REFUSED, "0A000"), statement  # 0A000: hypertables refuse it anyway
    assert conn.execute("SELECT count(*) FROM audit.events").fetchone()[0] == before


def test_an_actor_claim_naming_another_tenants_user_is_no_claim(conn, db):
    _, a, b = db
    perm = uuid.uuid4()
    with acting_as(conn, APP, a["tenant"], keep=True):
        conn.execute("SELECT set_config('app.actor_id', %s, true)", [str(b["user1"])])
        conn.execute("INSERT INTO public.data_room_permissions (id, data_room_id, user_id, granted_by) "
                     "VALUES (%s, %s, %s, %s)", [perm, a["room"], a["user1"], a["user2"]])
    with acting_as(conn, APP, a["tenant"]):
        actor = conn.execute("SELECT actor_id FROM public.audit_events WHERE subject_id = %s", [perm]).fetchone()
    assert actor == (a["user2"],)  # the permission's granted_by, not tenant B's user


def test_retention_drops_only_the_months_older_than_seven_years(conn, db):
    _, a, _ = db
    old, recent = uuid.uuid4(), uuid.uuid4()
    conn.execute("INSERT INTO audit.events (time, tenant_id, event_type, subject_id) VALUES "
                 "(now() - INTERVAL '8 years', %s, 'document_viewed', %s), "
                 "(now() - INTERVAL '6 years', %s, 'document_viewed', %s)", [a["tenant"], old, a["tenant"], recent])
    with acting_as(conn, OWNER, keep=True):
        assert conn.execute("SELECT audit.drop_expired_events()").fetchone()[0] >= 1
    left = {r[0] for r in conn.execute("SELECT subject_id FROM audit.events WHERE subject_id IN (%s, %s)",
                                       [old, recent])}
    assert left == {recent}
    job = conn.execute("SELECT command FROM ops.cron_jobs WHERE jobname = 'audit_events_retention'").fetchone()
    assert job == ("SELECT audit.drop_expired_events()",)


def test_the_break_glass_step_a_superusers_function_swap_lets_one_delete_through(conn, db):
    """docs/audit.md: TimescaleDB refuses DISABLE TRIGGER on a hypertable, so removing an entry (a
    court order) is a superuser replacing audit.refuse_change() for one transaction (DDL, logged)."""
    _, a, _ = db
    with conn.transaction(force_rollback=True):
        victim = conn.execute("SELECT subject_id FROM audit.events WHERE tenant_id = %s AND subject_id IS NOT NULL "
                              "LIMIT 1", [a["tenant"]]).fetchone()[0]
        conn.execute("""CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS TRIGGER LANGUAGE plpgsql
                        SET search_path = pg_catalog, pg_temp AS $$ BEGIN RETURN OLD; END $$""")
        assert conn.execute("DELETE FROM audit.events WHERE subject_id = %s", [victim]).rowcount >= 1
