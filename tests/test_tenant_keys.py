"""The keys of the tenant tables on the way to Citus (issue 16, docs/citus.md): which unique keys still
lack tenant_id (Citus refuses them on a distributed table), and that the keys made per tenant
(0027-0028) still refuse the duplicates they refused."""

from __future__ import annotations

import psycopg
import pytest

from schema_support import APP, acting_as, attempt, cloned_db, seed_tenant

# Every primary key and unique constraint of a table with row-level security that does not include the
# tenant column, as docs/citus.md measured them: each step of its plan removes its entries, and none
# may be added. tenants is distributed by id, so its key is its id.
KEYS_WITHOUT_TENANT = {
    ("tenants", "idx_tenants_subdomain"), ("tenants", "tenants_stripe_customer_id_key"),
    ("users", "users_pkey"), ("users", "idx_users_clerk"),
    ("pipeline_stages", "pipeline_stages_pkey"), ("deals", "deals_pkey"),
    ("document_folders", "document_folders_pkey"),
    ("documents", "documents_pkey"), ("documents", "documents_storage_key_key"),
    ("data_rooms", "data_rooms_pkey"), ("data_rooms", "idx_datarooms_code"),
    ("data_room_permissions", "data_room_permissions_pkey"), ("deal_team_members", "deal_team_members_pkey"),
    ("activities", "activities_pkey"), ("activities_archive", "activities_archive_pkey"),
    ("tasks", "tasks_pkey"), ("ai_analyses", "ai_analyses_pkey"), ("valuations", "valuations_pkey"),
    ("comments", "comments_pkey"), ("notifications", "notifications_pkey"), ("presence", "presence_pkey"),
    ("user_sessions", "user_sessions_pkey"), ("user_sessions", "idx_sessions_token"),
}


@pytest.fixture(scope="module")
def db(server):
    with cloned_db(server, "tenant_keys") as url:
        with psycopg.connect(url, autocommit=True) as c:
            seeded = seed_tenant(c, "keys-a")
        yield url, seeded


@pytest.fixture
def conn(db, conn_to):
    return conn_to(db[0])


def test_the_unique_keys_without_tenant_id_are_the_ones_the_citus_plan_still_has_to_change(conn):
    found = {(r[0], r[1]) for r in conn.execute("""
        SELECT c.relname, con.conname
        FROM pg_constraint AS con JOIN pg_class AS c ON c.oid = con.conrelid
        WHERE con.contype IN ('p', 'u') AND c.relrowsecurity
          AND NOT EXISTS (SELECT FROM pg_attribute AS a
                          WHERE a.attrelid = c.oid AND a.attnum = ANY (con.conkey)
                            AND a.attname = CASE c.relname WHEN 'tenants' THEN 'id' ELSE 'tenant_id' END)
          AND c.relnamespace = 'public'::regnamespace""")}
    assert found == KEYS_WITHOUT_TENANT


@pytest.mark.parametrize("table, constraint, insert", [
    ("deal_team_members", "idx_deal_team_deal",
     "INSERT INTO public.deal_team_members (deal_id, user_id) VALUES (%(deal)s, %(user1)s)"),
    ("data_room_permissions", "idx_dr_permissions_room",
     "INSERT INTO public.data_room_permissions (data_room_id, user_id) VALUES (%(room)s, %(user1)s)"),
    ("document_folders", "document_folders_tenant_id_parent_id_name_key",
     "INSERT INTO public.document_folders (deal_id, parent_id, name, path) "
     "VALUES (%(deal)s, %(folder)s, 'twice', '/twice')"),
])
def test_a_key_made_per_tenant_still_refuses_a_duplicate_within_the_tenant(conn, db, table, constraint, insert):
    _, ids = db
    with acting_as(conn, APP, ids["tenant"]):
        first, err = attempt(conn, insert, ids)
        assert err is None and first == 1
        _, err = attempt(conn, insert, ids)
    assert isinstance(err, psycopg.errors.UniqueViolation)
    assert err.diag.constraint_name == constraint and err.diag.table_name == table
