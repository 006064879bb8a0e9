"""The verified tenant context (0017): a token signed with a key the tenant-facing roles cannot read,
checked by set_tenant_context(), each fault with its own SQLSTATE; rotation with two active keys;
expiry; transaction scope behind a pooler; the Python helper the application mints with; and the
`dbtool tenant` commands operators use."""

from __future__ import annotations

import json
import os
import stat
import time
import uuid

import psycopg
import pytest

from cli_support import run as invoke
from dbtool import tenant_token
from dbtool.commands import tenant as tenant_cmd
from schema_support import APP, READONLY, attempt, cloned_db, seed_tenant

SECRET = bytes(range(32))


@pytest.fixture(scope="module")
def db(server):
    with cloned_db(server, "context") as url:
        with psycopg.connect(url, autocommit=True) as c:
            a, b = seed_tenant(c, "ctx-a"), seed_tenant(c, "ctx-b")
            c.execute("SELECT app.add_tenant_key('k1', %s)", [SECRET])
        yield url, a, b


@pytest.fixture
def conn(db, conn_to):
    return conn_to(db[0])


def as_app(conn, token, sql="SELECT count(*) FROM public.deals", role=APP):
    """Set `token` as `role` and run one query: (its first value, None) or (None, the error)."""
    with conn.transaction(force_rollback=True):
        conn.execute(f"SET LOCAL ROLE {role}")
        try:
            with conn.transaction():
                conn.execute("SELECT public.set_tenant_context(%s)", [token])
                return conn.execute(sql).fetchone()[0], None
        except psycopg.Error as exc:
            return None, exc


def test_a_token_minted_by_the_application_helper_sets_its_tenant(conn, db):
    _, a, _ = db
    rows, err = as_app(conn, tenant_token.mint(SECRET, "k1", a["tenant"]))
    assert (rows, err) == (1, None)


@pytest.mark.parametrize("role", [APP, READONLY])
def test_each_fault_of_a_token_is_its_own_error(conn, db, role):
    _, a, b = db
    good = tenant_token.mint(SECRET, "k1", a["tenant"])
    forged = good.replace(str(a["tenant"]), str(b["tenant"]))
    cases = {
        "malformed": ("not-a-token", "28T01", "malformed tenant token"),
        "bad signature": (forged, "28T02", "signature does not match"),
        "other secret": (tenant_token.mint(bytes(32), "k1", a["tenant"]), "28T02", "signature does not match"),
        "expired": (tenant_token.mint(SECRET, "k1", a["tenant"], ttl=1, now=time.time() - 60), "28T03", "expired"),
        "unknown key": (tenant_token.mint(SECRET, "nokey", a["tenant"]), "28T04", "unknown or retired key"),
    }
    got = {}
    for name, (token, _, _) in cases.items():
        _, err = as_app(conn, token, role=role)
        got[name] = (err.sqlstate, err.diag.message_primary) if err else "ACCEPTED"
    for name, (_, state, words) in cases.items():
        assert got[name][0] == state and words in got[name][1], (name, got[name])


def test_a_forged_token_gives_no_hint_of_the_right_signature_or_the_tenant(conn, db):
    _, a, b = db
    forged = tenant_token.mint(SECRET, "k1", a["tenant"]).replace(str(a["tenant"]), str(b["tenant"]))
    _, err = as_app(conn, forged)
    text = " ".join(filter(None, [err.diag.message_primary, err.diag.message_detail, err.diag.message_hint]))
    assert str(b["tenant"]) not in text and forged.rsplit(".", 1)[1] not in text


def test_rotation_two_active_keys_then_the_old_one_retired(conn, db):
    _, a, _ = db
    new_secret = os.urandom(32)
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT app.add_tenant_key('k2', %s)", [new_secret])
        old, new = tenant_token.mint(SECRET, "k1", a["tenant"]), tenant_token.mint(new_secret, "k2", a["tenant"])
        both = [as_app(conn, t)[0] for t in (old, new)]
        registered = conn.execute("SELECT app.mint_tenant_token(%s, '10 minutes', 'k1')", [a["tenant"]]).fetchone()[0]
        forgotten = conn.execute("SELECT app.retire_tenant_key('k1')").fetchone()[0]
        _, after = as_app(conn, old)
        _, after_registered = as_app(conn, registered)
        still, _ = as_app(conn, new)
    assert both == [1, 1]
    assert forgotten >= 1, "the registered k1 token is forgotten with its key"
    assert after.sqlstate == after_registered.sqlstate == "28T04" and still == 1


def test_a_registered_token_stops_working_when_it_expires(conn, db):
    _, a, _ = db
    token = tenant_token.mint(SECRET, "k1", a["tenant"], ttl=1)
    assert as_app(conn, token)[0] == 1
    time.sleep(2.1)
    with conn.transaction(force_rollback=True):
        conn.execute(f"SET LOCAL ROLE {APP}")
        conn.execute("SELECT set_config('app.tenant_token', %s, true)", [token])  # registered, now expired
        seen = conn.execute("SELECT count(*) FROM public.deals").fetchone()[0]
        _, write = attempt(conn, "INSERT INTO public.pipeline_stages (name, display_name, order_index) "
                                 "VALUES ('late', 'Late', 99)")
    assert seen == 0
    assert write.sqlstate == "28T05" and "expired" in write.diag.message_primary


def test_the_context_ends_with_the_transaction_so_a_pooled_connection_carries_nothing_over(db, conn_to):
    """A transaction-mode pooler hands the same server connection to the next client: it must find
    neither the tenant nor the token."""
    url, a, _ = db
    token = tenant_token.mint(SECRET, "k1", a["tenant"])
    c = psycopg.connect(url)
    try:
        c.execute(f"SET ROLE {APP}")
        c.execute("SELECT public.set_tenant_context(%s)", [token])
        first = c.execute("SELECT count(*) FROM public.deals").fetchone()[0]
        c.commit()
        next_client = c.execute("SELECT count(*) FROM public.deals, current_setting('app.tenant_token', true) AS s "
                                "WHERE coalesce(s, '') = ''").fetchone()[0]
        leftover = c.execute("SELECT coalesce(current_setting('app.tenant_token', true), '')").fetchone()[0]
        c.commit()
    finally:
        c.close()
    assert (first, next_client, leftover) == (1, 0, "")


def test_a_read_only_transaction_uses_a_registered_token_and_says_why_it_cannot_register_one(conn, db):
    _, a, _ = db
    fresh = tenant_token.mint(SECRET, "k1", a["tenant"], ttl=500)  # not the token minted below
    minted = conn.execute("SELECT app.mint_tenant_token(%s, '10 minutes')", [a["tenant"]]).fetchone()[0]
    with conn.transaction(force_rollback=True):
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute(f"SET LOCAL ROLE {READONLY}")
        conn.execute("SELECT public.set_tenant_context(%s)", [minted])
        seen = conn.execute("SELECT count(*) FROM public.deals").fetchone()[0]
        _, err = attempt(conn, "SELECT public.set_tenant_context(%s)", [fresh])
    assert seen == 1
    assert err.sqlstate == "25006" and "read-only" in err.diag.message_primary


def test_tenant_facing_roles_can_neither_read_the_keys_nor_read_or_write_the_registry(conn):
    checks = conn.execute("""SELECT r, has_schema_privilege(r, 'app_private', 'USAGE'),
                                    has_table_privilege(r, 'app_private.tenant_keys', 'SELECT'),
                                    has_table_privilege(r, 'app.tenant_tokens', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE'),
                                    has_function_privilege(r, 'app.mint_tenant_token(uuid, interval, text)', 'EXECUTE'),
                                    has_function_privilege(r, 'app.add_tenant_key(text, bytea)', 'EXECUTE')
                             FROM unnest(%s::text[]) AS r""", [[APP, READONLY]]).fetchall()
    assert checks == [(r, False, False, False, False, False) for r in (APP, READONLY)]


def test_the_context_function_gives_the_tenant_of_the_callers_token_only(conn, db):
    """The registry lists every tenant's live tokens; a role learns only its own token's tenant, through
    app.verified_tenant(), and nothing for a token it merely set."""
    _, a, b = db
    conn.execute("SELECT app.mint_tenant_token(%s, '10 minutes')", [b["tenant"]])
    token = tenant_token.mint(SECRET, "k1", a["tenant"])
    with conn.transaction(force_rollback=True):
        conn.execute(f"SET LOCAL ROLE {APP}")
        conn.execute("SELECT public.set_tenant_context(%s)", [token])
        mine = conn.execute("SELECT app.verified_tenant()").fetchone()[0]
        conn.execute("SELECT set_config('app.tenant_token', %s, true)",
                     [tenant_token.mint(SECRET, "k1", b["tenant"], ttl=77)])  # valid, never registered
        unregistered = conn.execute("SELECT app.verified_tenant()").fetchone()[0]
        _, err = attempt(conn, "SELECT count(*) FROM app.tenant_tokens")
    assert mine == a["tenant"] and unregistered is None and err.sqlstate == "42501"


def test_the_python_helper_refuses_what_the_database_would_refuse():
    with pytest.raises(ValueError, match="32 bytes"):
        tenant_token.mint(b"short", "k1", uuid.uuid4())
    with pytest.raises(ValueError, match="key id"):
        tenant_token.mint(SECRET, "Bad Key", uuid.uuid4())
    with pytest.raises(ValueError, match="ttl"):
        tenant_token.mint(SECRET, "k1", uuid.uuid4(), ttl=90000)


def test_the_token_cache_reuses_a_token_until_it_nears_expiry():
    cache = tenant_token.TokenCache(secret=SECRET, key_id="k1", ttl=3, renew_before=2)
    tenant = uuid.uuid4()
    first = cache.token(tenant)
    assert cache.token(tenant) == first  # 3 seconds left, more than renew_before
    time.sleep(2.1)
    second = cache.token(tenant)
    assert second != first and tenant_token.expiry(second) > tenant_token.expiry(first)


# --- dbtool tenant ------------------------------------------------------------------------------

def test_dbtool_tenant_key_add_writes_a_private_secret_file_and_never_prints_it(db, tmp_path, conn_to):
    url, a, _ = db
    out = tmp_path / "k9.key"
    res = invoke("tenant", "key", "add", "k9", "--out", str(out), "-d", url)
    assert res.exit_code == 0, res.output
    secret = bytes.fromhex(out.read_text().strip())
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and len(secret) == 32
    assert out.read_text().strip() not in res.output
    token = tenant_token.mint(secret, "k9", a["tenant"])
    assert as_app(conn_to(url), token)[0] == 1
    again = invoke("tenant", "key", "add", "k10", "--out", str(out), "-d", url)
    assert again.exit_code == 2 and "never overwrites" in again.output


def test_dbtool_tenant_token_mints_a_registered_token_for_operators(db, conn_to):
    url, a, _ = db
    res = invoke("tenant", "token", str(a["tenant"]), "--ttl", "5m", "--json", "-d", url)
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert body["tenant"] == str(a["tenant"]) and 240 <= body["expires_in"] <= 301
    assert as_app(conn_to(url), body["token"], role=READONLY)[0] == 1


def test_dbtool_tenant_key_list_and_retire(db, conn_to):
    url, _, _ = db
    conn_to(url).execute("SELECT app.add_tenant_key('old', %s)", [os.urandom(32)])
    listed = json.loads(invoke("tenant", "key", "list", "--json", "-d", url).stdout)
    assert {"k1", "old"} <= {k["key_id"] for k in listed["keys"]}
    assert all("secret" not in k for k in listed["keys"])
    res = invoke("tenant", "key", "retire", "old", "-d", url)
    assert res.exit_code == 0, res.output
    again = invoke("tenant", "key", "retire", "old", "-d", url)
    assert again.exit_code == 3 and "no active tenant key old" in again.output


@pytest.mark.parametrize("args, message", [
    (["tenant", "token", "not-a-uuid"], "is not a uuid"),
    (["tenant", "token", "00000000-0000-0000-0000-000000000001", "--ttl", "3d"], "is not a duration"),
    (["tenant", "key", "add", "Bad Key", "--out", "/tmp/x"], "is not valid"),
    (["tenant", "key", "add", "k11"], "--out FILE"),
])
def test_dbtool_tenant_refuses_bad_input_with_one_clear_line(db, args, message):
    res = invoke(*args, "-d", db[0])
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output
