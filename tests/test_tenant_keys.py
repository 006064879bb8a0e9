"""The keys of the tenant tables on the way to Citus (issue 16, docs/citus.md): which unique keys still
lack tenant_id (Citus refuses them on a distributed table), that the keys made per tenant (0027-0028)
still refuse the duplicates they refused, and what the primary keys on (tenant_id, id) (0029-0030)
guarantee: an id is unique within its tenant, no longer across tenants."""

from __future__ import annotations

import psycopg
import pytest

from schema_support import APP, acting_as, attempt, cloned_db, seed_tenant

# Every primary key and unique constraint of a table with row-level security that does not include the
# tenant column, as docs/citus.md measured them: each step of its plan removes its entries, and none
# may be added. tenants is distributed by id, so its key is its id.
KEYS_WITHOUT_TENANT = {
    ("tenants", "idx_tenants_subdomain"), ("tenants", "tenants_stripe_customer_id_key"),
    ("users", "idx_users_clerk"), ("documents", "documents_storage_key_key"), ("data_rooms", "idx_datarooms_code"),
    ("user_sessions", "idx_sessions_token"),
}


@pytest.fixture(scope="module")
def db(server):
    with cloned_db(server, "tenant_keys") as url:
        with psycopg.connect(url, autocommit=True) as c:
            seeded = seed_tenant(c, "keys-a")
            other = seed_tenant(c, "keys-b")
        yield url, seeded, other


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
    _, ids, _ = db
    with acting_as(conn, APP, ids["tenant"]):
        first, err = attempt(conn, insert, ids)
        assert err is None and first == 1
        _, err = attempt(conn, insert, ids)
    assert isinstance(err, psycopg.errors.UniqueViolation)
    assert err.diag.constraint_name == constraint and err.diag.table_name == table


# The tenant tables keyed by id before 0030, and the UNIQUE (tenant_id, id) constraints the composite
# foreign keys reference, which 0030 leaves in place (docs/citus.md: a later clean-up drops them).
KEYED_BY_ID = ["users", "user_sessions", "pipeline_stages", "deals", "deal_team_members", "document_folders",
               "documents", "data_rooms", "data_room_permissions", "activities", "activities_archive", "tasks",
               "valuations", "ai_analyses", "comments", "notifications"]
TENANT_ID_UNIQUES = {"users": "idx_users_tenant", "deals": "deals_tenant_id_id_key",
                     "document_folders": "document_folders_tenant_id_id_key",
                     "documents": "documents_tenant_id_id_key", "data_rooms": "data_rooms_tenant_id_id_key",
                     "comments": "comments_tenant_id_id_key"}


def test_every_primary_key_of_a_table_with_tenant_id_starts_with_it(conn):
    keys = dict(conn.execute("""
        SELECT con.conrelid::regclass::text, pg_get_constraintdef(con.oid)
        FROM pg_constraint AS con
        WHERE con.contype = 'p'
          AND EXISTS (SELECT FROM pg_attribute AS a WHERE a.attrelid = con.conrelid AND a.attname = 'tenant_id'
                        AND NOT a.attisdropped)""").fetchall())
    expected = {t: "PRIMARY KEY (tenant_id, id)" for t in KEYED_BY_ID}
    expected["presence"] = "PRIMARY KEY (tenant_id, user_id, resource_type, resource_id)"
    # app.tenant_tokens is keyed by its token hash: a reference table in the plan, not distributed by tenant.
    expected["app.tenant_tokens"] = "PRIMARY KEY (token_hash)"
    assert keys == expected


def test_the_unique_tenant_id_id_constraints_the_foreign_keys_use_stay_beside_the_new_keys(conn):
    rows = conn.execute("""
        SELECT con.conrelid::regclass::text, con.conname, pg_get_constraintdef(con.oid),
               (SELECT count(*) FROM pg_constraint AS fk WHERE fk.contype = 'f' AND fk.conindid = con.conindid)
        FROM pg_constraint AS con
        WHERE con.contype = 'u' AND con.conrelid::regclass::text = ANY (%s)
          AND pg_get_constraintdef(con.oid) = 'UNIQUE (tenant_id, id)'""", [list(TENANT_ID_UNIQUES)]).fetchall()
    assert {r[0]: r[1] for r in rows} == TENANT_ID_UNIQUES
    assert all(r[3] > 0 for r in rows), rows  # each is referenced by a composite foreign key
    # and no foreign key references a primary key of a tenant table (so 0030 could drop them alone)
    assert conn.execute("""
        SELECT array_agg(conname) FROM pg_constraint
        WHERE contype = 'f' AND confrelid::regclass::text = ANY (%s)
          AND conindid IN (SELECT conindid FROM pg_constraint WHERE contype = 'p')""",
                        [KEYED_BY_ID + ["presence"]]).fetchone()[0] is None


# An explicit id (the columns default to gen_random_uuid()), inserted as the application in a tenant.
ID_INSERTS = {
    "tasks": "INSERT INTO public.tasks (id, deal_id, title) VALUES (%(id)s, %(deal)s, 'Again')",
    "activities": "INSERT INTO public.activities (id, deal_id, user_id, type, title) "
                  "VALUES (%(id)s, %(deal)s, %(user1)s, 'note', 'Again')",
    "notifications": "INSERT INTO public.notifications (id, user_id, type, title) "
                     "VALUES (%(id)s, %(user1)s, 'mention', 'Again')",
    "deals": "INSERT INTO public.deals (id, name, owner_id, created_by) VALUES (%(id)s, 'Again', %(user1)s, %(user1)s)",
    "comments": "INSERT INTO public.comments (id, commentable_type, commentable_id, user_id, content) "
                "VALUES (%(id)s, 'deal', %(deal)s, %(user1)s, 'Again')",
}
ID_OF = {"tasks": "task1", "activities": "activity", "notifications": "notification", "deals": "deal",
         "comments": "comment"}


@pytest.mark.parametrize("table", ID_INSERTS)
def test_an_id_used_twice_in_the_same_tenant_is_refused(conn, db, table):
    _, a, _ = db
    with acting_as(conn, APP, a["tenant"]):
        _, err = attempt(conn, ID_INSERTS[table], {**a, "id": a[ID_OF[table]]})
    assert isinstance(err, psycopg.errors.UniqueViolation), err
    # the new key, or on the six tables that keep it the older UNIQUE (tenant_id, id): both per tenant
    assert err.diag.constraint_name in {f"{table}_pkey", TENANT_ID_UNIQUES.get(table)}
    assert err.diag.table_name == table


@pytest.mark.parametrize("table", ID_INSERTS)
def test_an_id_of_another_tenant_is_no_longer_refused_and_each_tenant_sees_its_own_row(conn, db, table):
    """0030's change of guarantee (docs/deviations.md): no constraint is left on id alone, so tenant B may
    insert a row with an id tenant A already uses; each sees only its own row under row-level security."""
    _, a, b = db
    taken = a[ID_OF[table]]
    try:
        with acting_as(conn, APP, b["tenant"], keep=True):
            count, err = attempt(conn, ID_INSERTS[table], {**b, "id": taken})
            assert err is None and count == 1
        seen = {}
        for name, ids in (("a", a), ("b", b)):
            with acting_as(conn, APP, ids["tenant"]):
                seen[name] = conn.execute(f"SELECT tenant_id FROM public.{table} WHERE id = %s", [taken]).fetchall()
        assert seen == {"a": [(a["tenant"],)], "b": [(b["tenant"],)]}
        assert conn.execute(f"SELECT count(*) FROM public.{table} WHERE id = %s", [taken]).fetchone()[0] == 2
    finally:  # as the superuser: the other tests of the module expect one row per id
        conn.execute(f"DELETE FROM public.{table} WHERE tenant_id = %s AND id = %s", [b["tenant"], taken])


def test_presence_key_still_refuses_the_same_user_and_resource_twice(conn, db):
    _, a, _ = db
    with acting_as(conn, APP, a["tenant"]):
        _, err = attempt(conn, "INSERT INTO public.presence (user_id, resource_type, resource_id) "
                               "VALUES (%(user1)s, 'document', %(doc)s)", a)
    assert isinstance(err, psycopg.errors.UniqueViolation)
    assert err.diag.constraint_name == "presence_pkey"


def test_a_foreign_key_to_an_id_alone_is_refused_it_names_the_tenant_too(conn):
    """No unique constraint on id alone is left on a tenant table: a later table's foreign key to one
    must be composite, (tenant_id, id), as the schema's own are."""
    with conn.transaction(force_rollback=True):
        _, err = attempt(conn, "CREATE TABLE public.later_notes (id uuid PRIMARY KEY, deal_id uuid "
                               "REFERENCES public.deals (id))")
        assert isinstance(err, psycopg.errors.InvalidForeignKey)
        _, err = attempt(conn, "CREATE TABLE public.later_notes (id uuid PRIMARY KEY, tenant_id uuid, "
                               "deal_id uuid, FOREIGN KEY (tenant_id, deal_id) REFERENCES public.deals (tenant_id, id))")
        assert err is None
