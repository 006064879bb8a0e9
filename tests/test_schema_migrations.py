"""The real migrations, applied and rolled back on empty databases, compared by their catalog.

The comparison is pg_dump --schema-only text (objects, owners, grants, policies, defaults,
comments), minus dbtool's own bookkeeping schema. `dbtool verify` proves the tool does this; these
tests prove the SQL: every rollback is the exact inverse of its migration.
"""

from __future__ import annotations

import difflib

import psycopg

from dbtool import cron
from dbtool.commands.migrate import migrate
from dbtool.commands.rollback import rollback
from dbtool.migrations import read
from schema_support import schema_dump


def _same(actual: str, expected: str, what: str) -> None:
    if actual != expected:
        diff = "".join(list(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                                 "expected", "actual", n=1))[:60])
        raise AssertionError(f"{what}:\n{diff}")


def test_head_then_rollback_all_leaves_the_catalog_of_a_never_migrated_database(server, db_factory, project):
    never = schema_dump(db_factory())
    url = db_factory()
    migrate(url, project)
    with psycopg.connect(url) as c:
        assert c.execute("SELECT count(*) FROM pg_class WHERE relname = 'deals'").fetchone()[0] == 1
    rollback(url, project, all_=True)
    _same(schema_dump(url), never, "rolled back to empty, the schema differs from a database never migrated")
    with psycopg.connect(server.url("postgres")) as c:
        name = url.rsplit("/", 1)[1]
        assert cron.scheduled(c, name) == {}, "rolling back left pg_cron jobs of the database behind"


def test_every_migration_rolls_back_to_the_catalog_before_it_and_reapplies_identically(db_factory, project):
    ids = [m.id for m in read(project.migrations_dir, project.root)]
    url = db_factory()
    dumps = [schema_dump(url)]
    for mid in ids:
        migrate(url, project, to=mid, sync_cron=False)
        dumps.append(schema_dump(url))
    for n in range(len(ids), 0, -1):
        rollback(url, project, steps=1, sync_cron=False)
        _same(schema_dump(url), dumps[n - 1], f"rolling back {ids[n - 1]} does not restore the catalog before it")
        migrate(url, project, to=ids[n - 1], sync_cron=False)
        _same(schema_dump(url), dumps[n], f"re-applying {ids[n - 1]} after its rollback gives another catalog")
        rollback(url, project, steps=1, sync_cron=False)


def test_migrating_twice_changes_nothing(migrated_db, project):
    before = schema_dump(migrated_db)
    result = migrate(migrated_db, project, sync_cron=False)
    assert result.applied == [] and result.repeatables == []
    _same(schema_dump(migrated_db), before, "a second migrate changed the schema")


def test_the_roles_migration_tolerates_roles_that_already_exist(db_factory, project):
    """Roles are cluster-wide: the session template already created them; a second database must
    migrate, and rolling it back must keep the roles the template still uses."""
    url = db_factory()
    migrate(url, project, to="0002", sync_cron=False)
    rollback(url, project, all_=True, sync_cron=False)
    with psycopg.connect(url) as c:
        roles = {r[0] for r in c.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'maplatform\\_%'")}
    assert roles == {"maplatform_owner", "maplatform_app", "maplatform_readonly", "maplatform_ops",
                     "maplatform_maintenance", "maplatform_auditor", "maplatform_audit_owner"}  # 0026, 0023: in the template


def test_the_roles_migration_refuses_an_app_role_that_bypasses_rls(db_factory, project, server):
    url = db_factory()
    with server.admin() as c:
        c.execute("ALTER ROLE maplatform_app BYPASSRLS")
    try:
        try:
            migrate(url, project, to="0002", sync_cron=False)
        except Exception as exc:  # noqa: BLE001 - the engine's DbtoolError
            message = str(getattr(exc, "message", exc))
        else:
            message = ""
    finally:
        with server.admin() as c:
            c.execute("ALTER ROLE maplatform_app NOBYPASSRLS")
    assert "attributes that break tenant isolation: maplatform_app (BYPASSRLS)" in message
