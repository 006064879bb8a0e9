"""The keys of the tenant tables on the way to Citus (issue 16, docs/citus.md): which unique keys still
lack tenant_id (Citus refuses them on a distributed table: only tenants' own are left), that the keys
made per tenant (0027-0028, 0035-0036) still refuse the duplicates within a tenant, what the primary keys
on (tenant_id, id) (0029-0030) guarantee: an id is unique within its tenant, no longer across tenants,
and what 0036 changes: a Clerk id, a session's token hash and an access code are unique within their
tenant, and a storage key stays unique across tenants because it must lie under its tenant's prefix."""

from __future__ import annotations

import psycopg
import pytest

from dbtool.commands.migrate import migrate
from dbtool.errors import DbtoolError
from schema_support import APP, acting_as, attempt, cloned_db, seed_tenant

# Every primary key and unique constraint of a table with row-level security that does not include the
# tenant column (for tenants, its id), and none may be added. Only tenants' own two are left, on purpose:
# tenants is the global lookup of subdomains and Stripe customers, a reference table on Citus (a copy of
# every row on every node, so a unique key on it is global and Citus accepts it; docs/citus.md).
KEYS_WITHOUT_TENANT = {("tenants", "idx_tenants_subdomain"), ("tenants", "tenants_stripe_customer_id_key")}


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


def test_the_only_unique_keys_without_tenant_id_are_those_of_the_tenants_lookup(conn):
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
    ("users", "idx_users_clerk",
     "INSERT INTO public.users (clerk_id, email) VALUES ('user_twice', 'twice-' || gen_random_uuid() || '@a.example')"),
    ("user_sessions", "idx_sessions_token",
     "INSERT INTO public.user_sessions (user_id, token_hash, expires_at) VALUES (%(user1)s, repeat('ab', 32), now())"),
    ("documents", "documents_tenant_id_storage_key_key",
     "INSERT INTO public.documents (name, storage_key) VALUES ('x', 'tenants/' || app.current_tenant_id() || '/twice')"),
    ("data_rooms", "idx_datarooms_code", "INSERT INTO public.data_rooms (name, access_code) VALUES ('x', 'TWICE')"),
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


# 0036's change of guarantee (docs/deviations.md): the value a row of tenant A holds, put on a row of
# tenant B's as B would (the application role, B's context).
SHARED_VALUES = {
    "users.clerk_id": "INSERT INTO public.users (clerk_id, email) VALUES (%(v)s, 'same-person@b.example')",
    "user_sessions.token_hash": "INSERT INTO public.user_sessions (user_id, token_hash, expires_at) "
                                "VALUES (%(user1)s, %(v)s, now() + INTERVAL '1 day')",
    "data_rooms.access_code": "INSERT INTO public.data_rooms (name, access_code) VALUES ('Same code', %(v)s)",
}


@pytest.mark.parametrize("key", SHARED_VALUES)
def test_a_value_of_another_tenant_is_accepted_and_each_tenant_finds_only_its_own_row(conn, db, key):
    """A Clerk id, a session's token hash and an access code are unique within their tenant since 0036,
    no longer across tenants: B's insert of A's value passes (the same person may be a user of two
    tenants), and the lookup by the value inside each tenant, the only one the application can make
    under row-level security, finds that tenant's row alone."""
    _, a, b = db
    table, column = key.split(".")
    value = conn.execute(f"SELECT {column} FROM public.{table} WHERE tenant_id = %s AND {column} IS NOT NULL LIMIT 1",
                         [a["tenant"]]).fetchone()[0]
    try:
        with acting_as(conn, APP, b["tenant"], keep=True):
            count, err = attempt(conn, SHARED_VALUES[key], {**b, "v": value})
            assert err is None and count == 1, err
        seen = {}
        for name, ids in (("a", a), ("b", b)):
            with acting_as(conn, APP, ids["tenant"]):
                seen[name] = conn.execute(f"SELECT tenant_id FROM public.{table} WHERE {column} = %s",
                                          [value]).fetchall()
        assert seen == {"a": [(a["tenant"],)], "b": [(b["tenant"],)]}
    finally:  # as the superuser: the other tests of the module expect one row per value
        conn.execute(f"DELETE FROM public.{table} WHERE tenant_id = %s AND {column} = %s", [b["tenant"], value])


def test_the_seeds_and_the_applications_storage_keys_lie_under_their_tenants_prefix(conn, db):
    """0035's CHECK is validated: every existing key, the seeded ones included, has the form
    tenants/<tenant_id>/..., so no two tenants' keys can be equal and UNIQUE (tenant_id, storage_key)
    keeps storage keys unique across tenants without a global index."""
    assert conn.execute("""SELECT convalidated, pg_get_constraintdef(oid) FROM pg_constraint
                           WHERE conrelid = 'public.documents'::regclass
                             AND conname = 'documents_storage_key_is_under_its_tenant'""").fetchone() == (
        True, "CHECK (starts_with((storage_key)::text, (('tenants/'::text || (tenant_id)::text) || '/'::text)))")
    assert conn.execute("SELECT count(*) FROM public.documents "
                        "WHERE NOT starts_with(storage_key, 'tenants/' || tenant_id || '/')").fetchone()[0] == 0


@pytest.mark.parametrize("key", [
    "{a}",                              # the key of tenant A's seeded document: under A's prefix, not B's
    "tenants/{b_upper}/x.pdf",          # B's id, not in the form PostgreSQL prints a uuid
    "tenants/{b}x.pdf",                 # no folder boundary after the id
    "tenants/{b}",                      # the prefix without its slash
    "{b}/x.pdf",                        # no tenants/ folder
    "x/tenants/{b}/x.pdf",              # the prefix further in
])
def test_a_storage_key_outside_the_writers_prefix_is_refused_whoever_holds_it(conn, db, key):
    """As tenant B: every key that does not start with tenants/<B's id>/ fails the CHECK (23514), tenant
    A's existing key as any other, so the refusal says nothing of whether A has that object."""
    _, a, b = db
    existing = conn.execute("SELECT storage_key FROM public.documents WHERE tenant_id = %s LIMIT 1",
                            [a["tenant"]]).fetchone()[0]
    value = key.format(a=existing, b=b["tenant"], b_upper=str(b["tenant"]).upper())
    with acting_as(conn, APP, b["tenant"]):
        _, err = attempt(conn, "INSERT INTO public.documents (name, storage_key) VALUES ('x', %s)", [value])
        ok, fine = attempt(conn, "INSERT INTO public.documents (name, storage_key) VALUES ('x', %s)",
                           [f"tenants/{b['tenant']}/{value}"])
    assert isinstance(err, psycopg.errors.CheckViolation), err
    assert err.diag.constraint_name == "documents_storage_key_is_under_its_tenant"
    assert fine is None and ok == 1  # the same text under B's own prefix is a key B may use


def test_a_storage_key_outside_its_tenants_prefix_stops_0035_before_any_index_and_migrating_resumes_once_fixed(
        db_factory, project, conn_to):
    """A database whose documents hold a key of another form (an application that wrote its own) fails
    0035's VALIDATE, naming the CHECK: dbtool undoes the CHECK, no index has been built, 0035 is not
    recorded. Once the row is fixed, migrating again goes to head."""
    url = db_factory()
    migrate(url, project, to="0034")  # the migration before 0035
    c = conn_to(url)
    ids = seed_tenant(c, "legacy-keys")
    c.execute("UPDATE public.documents SET storage_key = 'legacy/accounts.pdf' WHERE id = %s", [ids["doc"]])
    with pytest.raises(DbtoolError) as failed:
        migrate(url, project)
    assert "documents_storage_key_is_under_its_tenant" in str(failed.value)
    assert c.execute("""SELECT (SELECT count(*) FROM pg_constraint
                                WHERE conname = 'documents_storage_key_is_under_its_tenant'),
                               (SELECT count(*) FROM pg_class
                                WHERE relname IN ('users_tenant_id_clerk_id_key', 'user_sessions_tenant_id_token_hash_key',
                                                  'documents_tenant_id_storage_key_key',
                                                  'data_rooms_tenant_id_access_code_key')),
                               (SELECT left(max(id), 4) FROM dbtool.migrations)""").fetchone() == (0, 0, "0034")
    c.execute("UPDATE public.documents SET storage_key = 'tenants/' || tenant_id || '/legacy/accounts.pdf' "
              "WHERE id = %s", [ids["doc"]])
    migrate(url, project)
    assert c.execute("SELECT convalidated FROM pg_constraint "
                     "WHERE conname = 'documents_storage_key_is_under_its_tenant'").fetchone() == (True,)
