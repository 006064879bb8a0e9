"""Registering a tenant token (0033, 0034): the functions that write app.tenant_tokens record the one
audit event themselves (a reference table's trigger would fire on every Citus node), nothing else can
write the registry without them, and on plain PostgreSQL the token is still set with set_config, so
no statement text ever holds it. The Citus side is in tests/test_citus.py."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest

from dbtool import tenant_token
from schema_support import APP, OWNER, READONLY, cloned_db, seed_tenant

SECRET = bytes(range(32, 64))
REGISTERED = "SELECT count(*) FROM audit.events WHERE event_type = 'tenant_context_registered' AND tenant_id = %s"


@pytest.fixture(scope="module")
def db(server):
    with cloned_db(server, "registration") as url:
        with psycopg.connect(url, autocommit=True) as c:
            a = seed_tenant(c, "reg-a")
            c.execute("SELECT app.add_tenant_key('r1', %s)", [SECRET])
        yield url, a


@pytest.fixture
def conn(db, conn_to):
    return conn_to(db[0])


def use(conn, token, role=APP) -> int:
    """One transaction as `role` with `token` set by set_tenant_context: the deals it sees."""
    with conn.transaction():
        conn.execute(f"SET LOCAL ROLE {role}")
        conn.execute("SELECT public.set_tenant_context(%s)", [token])
        return conn.execute("SELECT count(*) FROM public.deals").fetchone()[0]


def test_a_token_the_application_minted_is_one_event_however_often_it_is_used(conn):
    tenant = uuid.uuid4()  # a tenant of its own: its events are this test's
    token = tenant_token.mint(SECRET, "r1", tenant, ttl=600)
    seen = [use(conn, token), use(conn, token, READONLY), use(conn, token)]
    rows = conn.execute("""SELECT actor_id, subject_id, details ->> 'key_id',
                                  (details ->> 'expires_at')::timestamptz = to_timestamp(%s), db_user
                           FROM audit.events WHERE event_type = 'tenant_context_registered' AND tenant_id = %s""",
                        [tenant_token.expiry(token), tenant]).fetchall()
    assert seen == [0, 0, 0]
    assert rows == [(None, None, "r1", True, "postgres")]


def test_a_token_minted_on_the_server_is_one_event_and_using_it_adds_none(conn, db):
    _, a = db
    before = conn.execute(REGISTERED, [a["tenant"]]).fetchone()[0]
    token = conn.execute("SELECT app.mint_tenant_token(%s, '7 minutes')", [a["tenant"]]).fetchone()[0]
    assert [use(conn, token), use(conn, token)] == [1, 1]
    assert conn.execute(REGISTERED, [a["tenant"]]).fetchone()[0] == before + 1


def test_two_sessions_registering_the_same_token_at_once_make_one_event(db, conn):
    """Both miss the token in the registry; the second one's INSERT waits for the first's row, then
    inserts nothing (ON CONFLICT DO NOTHING) and records nothing."""
    url, _ = db
    tenant = uuid.uuid4()
    token = tenant_token.mint(SECRET, "r1", tenant, ttl=600)
    first, second = psycopg.connect(url), psycopg.connect(url, autocommit=True)
    try:
        first.execute("SELECT public.set_tenant_context(%s)", [token])  # registered, not committed
        waiting = threading.Thread(target=second.execute, args=("SELECT public.set_tenant_context(%s)", [token]))
        waiting.start()
        for _ in range(100):
            if conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
                            [second.info.backend_pid]).fetchone()[0]:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the second session never waited for the first one's registration")
        first.commit()
        waiting.join(10)
    finally:
        first.close()
        second.close()
    assert conn.execute(REGISTERED, [tenant]).fetchone()[0] == 1


def test_only_the_owner_role_and_superusers_can_write_the_token_registry(conn):
    """0033 records registrations in the owner's functions, not in a trigger: a role that could insert
    into app.tenant_tokens directly would register a token unrecorded. Read from the catalog: every
    role with INSERT, UPDATE or DELETE there is a superuser, the table's owner (or a member acting as
    it: another test's migrating login), or held back by row-level security (no write policy, and no
    BYPASSRLS)."""
    holders = conn.execute("""
        SELECT r.rolname, r.rolbypassrls FROM pg_roles AS r
        WHERE NOT r.rolsuper AND has_table_privilege(r.oid, 'app.tenant_tokens', 'INSERT, UPDATE, DELETE')
          AND (r.rolname = %(owner)s OR NOT pg_has_role(r.oid, %(owner)s, 'MEMBER'))
        ORDER BY 1""", {"owner": OWNER}).fetchall()
    write_policies = conn.execute("""SELECT polname FROM pg_policy WHERE polrelid = 'app.tenant_tokens'::regclass
                                     AND polcmd IN ('a', 'w', 'd', '*')""").fetchall()
    rls = conn.execute("""SELECT relrowsecurity, relforcerowsecurity, relowner::regrole::text FROM pg_class
                          WHERE oid = 'app.tenant_tokens'::regclass""").fetchone()
    assert rls == (True, False, OWNER) and write_policies == []
    assert [name for name, _ in holders] == [OWNER, "pg_write_all_data"]
    assert [name for name, bypass in holders if bypass and name != OWNER] == []
    with conn.transaction(force_rollback=True):  # roles are transactional: this one never exists
        conn.execute("CREATE ROLE registration_writer NOLOGIN IN ROLE pg_write_all_data")
        conn.execute("SET LOCAL ROLE registration_writer")
        try:
            with conn.transaction():
                conn.execute("INSERT INTO app.tenant_tokens VALUES ('\\x00', gen_random_uuid(), 'r1', now())")
            err = None
        except psycopg.Error as exc:
            err = exc
        deleted = conn.execute("DELETE FROM app.tenant_tokens").rowcount
    assert err is not None and err.sqlstate == "42501" and "row-level security" in str(err)
    assert deleted == 0


def test_on_plain_postgresql_no_statement_text_holds_the_token(conn, db):
    """set_config keeps the token a parameter; a SET LOCAL (what Citus needs) would be a statement whose
    text, the token, pg_stat_statements keeps (track = all here, as on the dev cluster)."""
    _, a = db
    token = tenant_token.mint(SECRET, "r1", a["tenant"], ttl=600)
    conn.execute("SELECT pg_stat_statements_reset()")
    with conn.transaction():
        conn.execute(f"SET LOCAL ROLE {APP}")
        conn.execute("SELECT public.set_tenant_context(%s)", [token])
        propagated = conn.execute("SELECT current_setting('citus.propagate_set_commands', true)").fetchone()[0]
        seen = conn.execute("SELECT count(*) FROM public.deals").fetchone()[0]
    texts = conn.execute("SELECT count(*) FROM pg_stat_statements WHERE strpos(query, %s) > 0",
                         [token.rsplit(".", 1)[1]]).fetchone()[0]
    assert (seen, propagated, texts) == (1, None, 0)


def test_the_citus_setting_of_verified_tenant_is_a_placeholder_that_changes_nothing_here(conn, db):
    _, a = db
    config = conn.execute("SELECT proconfig FROM pg_proc "
                          "WHERE oid = 'app.verified_tenant()'::regprocedure").fetchone()[0]
    assert "citus.allow_nested_distributed_execution=on" in config
    token = conn.execute("SELECT app.mint_tenant_token(%s, '5 minutes')", [a["tenant"]]).fetchone()[0]
    with conn.transaction(force_rollback=True):
        conn.execute(f"SET LOCAL ROLE {READONLY}")
        conn.execute("SELECT set_config('app.tenant_token', %s, true)", [token])
        tenant, after = conn.execute("SELECT app.verified_tenant(), "
                                     "current_setting('citus.allow_nested_distributed_execution', true)").fetchone()
    assert tenant == a["tenant"] and after in (None, "")
