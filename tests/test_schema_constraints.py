"""Every CHECK constraint rejects a bad row with an error naming the table and the constraint, and a
statement that fails on one row writes none of its rows."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from schema_support import APP, acting_as, attempt, cloned_db, seed_tenant

# constraint -> an INSERT that violates only it; %(t)s is a seeded tenant, %(d)s one of its deals
BAD_ROWS = {
    ("tenants", "tenants_subdomain_check"):
        "INSERT INTO public.tenants (subdomain, company_name) VALUES ('Not_A_Host', 'x')",
    ("deals", "deals_probability_check"): "INSERT INTO public.deals (tenant_id, name, probability) VALUES (%(t)s, 'x', 101)",
    ("deals", "deals_ai_score_check"): "INSERT INTO public.deals (tenant_id, name, ai_score) VALUES (%(t)s, 'x', -0.01)",
    ("deals", "valid_stage"): "INSERT INTO public.deals (tenant_id, name, stage) VALUES (%(t)s, 'x', 'won')",
    ("activities", "valid_activity_type"):
        "INSERT INTO public.activities (tenant_id, type, title) VALUES (%(t)s, 'sms', 'x')",
    ("activities_archive", "valid_activity_type"):
        "INSERT INTO public.activities_archive (id, tenant_id, type, title) VALUES (gen_random_uuid(), %(t)s, 'fax', 'x')",
    ("tasks", "valid_status"): "INSERT INTO public.tasks (tenant_id, title, status) VALUES (%(t)s, 'x', 'done')",
    ("tasks", "valid_priority"): "INSERT INTO public.tasks (tenant_id, title, priority) VALUES (%(t)s, 'x', 'urgent')",
    ("ai_analyses", "valid_analysis_type"):
        "INSERT INTO public.ai_analyses (tenant_id, type, model, results) VALUES (%(t)s, 'horoscope', 'm', '{}')",
    ("cron_jobs", "cron_jobs_jobname_check"):
        "INSERT INTO ops.cron_jobs (jobname, schedule, command) VALUES ('Bad Name', '* * * * *', 'ANALYZE')",
    ("cron_jobs", "cron_jobs_command_shape"):
        "INSERT INTO ops.cron_jobs (jobname, schedule, command) VALUES ('ok_name', '* * * * *', 'DROP TABLE x')",
    ("resource_types", "resource_types_table_name_qualified"):  # a session's own temporary table
        "INSERT INTO app.resource_types (resource_type, table_name) VALUES ('memo', 'pg_temp.deals')",
    ("documents", "documents_encryption_key_is_a_key_reference"):  # key material, as hex: never stored
        "INSERT INTO public.documents (tenant_id, name, storage_key, encryption_key) "
        "VALUES (%(t)s, 'x', 'tenants/' || %(t)s || '/k-hex', encode(gen_random_bytes(32), 'hex'))",
    ("documents", "documents_storage_key_is_under_its_tenant"):  # an object of another tenant's prefix
        "INSERT INTO public.documents (tenant_id, name, storage_key) "
        "VALUES (%(t)s, 'x', 'tenants/' || gen_random_uuid() || '/deals/x.pdf')",
    ("user_sessions", "user_sessions_token_hash_is_sha256"):  # the bearer token itself
        "INSERT INTO public.user_sessions (tenant_id, user_id, token_hash, expires_at) "
        "VALUES (%(t)s, %(u)s, 'sess_' || encode(gen_random_bytes(24), 'base64'), now())",
}
# and the boundary values the same constraints accept
GOOD_ROWS = [
    "INSERT INTO public.deals (tenant_id, name, probability, ai_score, stage) VALUES (%(t)s, 'x', 0, 1, 'closed_lost')",
    "INSERT INTO public.deals (tenant_id, name, probability, ai_score) VALUES (%(t)s, 'x', 100, 0)",
    "INSERT INTO public.tenants (subdomain, company_name) VALUES ('a-0-z', 'x')",
    "INSERT INTO app.resource_types (resource_type, table_name) VALUES ('memo', 'public.deals')",
    *["INSERT INTO public.documents (tenant_id, name, storage_key, encryption_key) "
      f"VALUES (%(t)s, 'x', 'tenants/' || %(t)s || '/{k}', '{v}')"
      for k, v in [("k-aws", "arn:aws:kms:eu-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
                   ("k-gcp", "projects/ma-prod/locations/europe-west2/keyRings/documents/cryptoKeys/data-rooms"),
                   ("k-azure", "https://ma-vault.vault.azure.net/keys/documents/0123456789abcdef0123456789abcdef"),
                   ("k-vault", "vault:transit/keys/documents")]],
    "INSERT INTO public.user_sessions (tenant_id, user_id, token_hash, expires_at) "
    "VALUES (%(t)s, %(u)s, encode(sha256('a session token'), 'hex'), now())",
]


@pytest.fixture(scope="module")
def db(server):
    with cloned_db(server, "checks") as url:
        with psycopg.connect(url, autocommit=True) as c:
            seeded = seed_tenant(c, "checks-a")
        yield url, {"t": seeded["tenant"], "d": seeded["deal"], "u": seeded["user1"]}


@pytest.fixture
def conn(db, conn_to):
    return conn_to(db[0])


def test_every_check_constraint_of_the_schema_has_a_bad_row_here(conn):
    """A CHECK added later without a case here fails this test."""
    declared = {(r[0], r[1]) for r in conn.execute("""
        SELECT c.relname, con.conname FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        WHERE con.contype = 'c' AND c.relnamespace IN ('public'::regnamespace, 'ops'::regnamespace,
                                                       'app'::regnamespace)""")}
    assert declared == set(BAD_ROWS)


@pytest.mark.parametrize("table, constraint", BAD_ROWS)
def test_a_bad_row_is_rejected_by_its_check_constraint_with_a_clear_error(conn, db, table, constraint):
    _, ids = db
    _, err = attempt(conn, BAD_ROWS[(table, constraint)], ids)
    assert isinstance(err, psycopg.errors.CheckViolation)
    assert err.diag.constraint_name == constraint and err.diag.table_name == table
    assert f'violates check constraint "{constraint}"' in err.diag.message_primary


@pytest.mark.parametrize("stmt", GOOD_ROWS)
def test_boundary_values_are_accepted(conn, db, stmt):
    _, ids = db
    with conn.transaction(force_rollback=True):
        assert conn.execute(stmt, ids).rowcount == 1


def test_a_multi_row_insert_failing_on_its_last_row_leaves_nothing(conn, db):
    _, ids = db
    before = conn.execute("SELECT count(*) FROM public.deals").fetchone()[0]
    _, err = attempt(conn, """INSERT INTO public.deals (tenant_id, name, probability)
                              VALUES (%(t)s, 'ok 1', 10), (%(t)s, 'ok 2', 20), (%(t)s, 'bad', 250)""", ids)
    assert isinstance(err, psycopg.errors.CheckViolation)
    assert conn.execute("SELECT count(*) FROM public.deals").fetchone()[0] == before


def test_a_bulk_insert_with_one_cross_tenant_reference_leaves_nothing(conn, db):
    """The same-tenant triggers fire once per statement, after all rows: one bad row in 10,000 aborts all."""
    _, ids = db
    other = seed_tenant(conn, f"checks-{uuid.uuid4().hex[:8]}")
    with acting_as(conn, APP, ids["t"]):
        before = conn.execute("SELECT count(*) FROM public.tasks").fetchone()[0]
        _, err = attempt(conn, """INSERT INTO public.tasks (title, depends_on)
                                  SELECT 'bulk ' || g, CASE WHEN g = 10000 THEN ARRAY[%s]::uuid[] ELSE '{}' END
                                  FROM generate_series(1, 10000) AS g""", [other["task1"]])
        after = conn.execute("SELECT count(*) FROM public.tasks").fetchone()[0]
    assert isinstance(err, psycopg.errors.ForeignKeyViolation) and after == before


def test_a_failing_update_changes_no_row(conn, db):
    _, ids = db
    conn.execute("INSERT INTO public.tasks (tenant_id, title, priority) VALUES (%(t)s, 'u1', 'low'), "
                 "(%(t)s, 'u2', 'low')", ids)
    _, err = attempt(conn, "UPDATE public.tasks SET priority = CASE title WHEN 'u2' THEN 'urgent' ELSE 'high' END "
                           "WHERE title IN ('u1', 'u2')")
    assert isinstance(err, psycopg.errors.CheckViolation)
    assert {r[0] for r in conn.execute("SELECT priority FROM public.tasks WHERE title IN ('u1', 'u2')")} == {"low"}
