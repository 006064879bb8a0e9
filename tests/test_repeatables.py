"""The repeatable-object engine (sql/functions, sql/views, sql/policies) on a scratch project: what
migrate re-applies, drops, re-creates and leaves waiting, and what status says about each file."""

from __future__ import annotations

import pytest

from dbtool.commands.migrate import migrate
from dbtool.commands.rollback import rollback
from dbtool.commands.status import status
from dbtool.errors import DbtoolError

HEADER = "-- Why: a test migration.\n"
FUNCTION = """-- The answer.
CREATE OR REPLACE FUNCTION public.answer() RETURNS INTEGER LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog AS 'SELECT {value}';
"""
VIEW = """-- Every row of a.
CREATE OR REPLACE VIEW public.all_a AS SELECT id FROM public.a;
"""


@pytest.fixture
def project(tmp_project):
    """Two migrations (tables a and b), a function and a view over table a."""
    tmp_project.pair("0001_create_a", HEADER + "CREATE TABLE public.a (id int PRIMARY KEY);\n", "DROP TABLE public.a;\n")
    tmp_project.pair("0002_create_b", HEADER + "CREATE TABLE public.b (id int);\n", "DROP TABLE public.b;\n")
    tmp_project.write("sql/functions/public.answer.sql", FUNCTION.format(value=42))
    tmp_project.write("sql/views/public.all_a.sql", VIEW)
    return tmp_project


def answer(conn) -> int:
    return conn.execute("SELECT public.answer()").fetchone()[0]


def states(url, project) -> dict[str, str]:
    return {e.id: e.state for e in status(url, project.load()).repeatables}


def test_migrate_creates_every_repeatable_object_and_records_it(project, empty_db, conn_to):
    res = migrate(empty_db, project.load())
    assert sorted(res.repeatables) == ["sql/functions/public.answer.sql", "sql/views/public.all_a.sql"]
    assert answer(conn_to(empty_db)) == 42
    assert states(empty_db, project) == {"sql/functions/public.answer.sql": "applied",
                                         "sql/views/public.all_a.sql": "applied"}
    assert migrate(empty_db, project.load()).repeatables == []  # nothing changed: nothing re-applied


def test_a_changed_file_is_reported_then_re_applied(project, empty_db, conn_to):
    migrate(empty_db, project.load())
    project.write("sql/functions/public.answer.sql", FUNCTION.format(value=43))
    assert states(empty_db, project)["sql/functions/public.answer.sql"] == "changed"
    assert migrate(empty_db, project.load()).repeatables == ["sql/functions/public.answer.sql"]
    assert answer(conn_to(empty_db)) == 43


def test_an_object_dropped_by_hand_is_reported_missing_and_created_again(project, empty_db, conn_to):
    migrate(empty_db, project.load())
    conn_to(empty_db).execute("DROP FUNCTION public.answer()")
    entry = next(e for e in status(empty_db, project.load()).repeatables if e.id == "sql/functions/public.answer.sql")
    assert (entry.state, entry.note) == ("pending", "function public.answer is missing from the database")
    assert migrate(empty_db, project.load()).repeatables == ["sql/functions/public.answer.sql"]
    assert answer(conn_to(empty_db)) == 42


def test_a_deleted_file_has_its_object_dropped(project, empty_db, conn_to):
    migrate(empty_db, project.load())
    (project.path / "sql/views/public.all_a.sql").unlink()
    entry = next(e for e in status(empty_db, project.load()).repeatables if e.id == "sql/views/public.all_a.sql")
    assert entry.state == "missing" and entry.note == "file removed; migrate drops all_a"
    assert migrate(empty_db, project.load()).repeatables_dropped == ["sql/views/public.all_a.sql"]
    assert conn_to(empty_db).execute("SELECT to_regclass('public.all_a')").fetchone()[0] is None


def test_a_file_waits_under_to_for_the_migration_that_makes_what_it_needs(project, empty_db, conn_to):
    project.write("sql/views/public.all_b.sql", "-- Every row of b.\nCREATE OR REPLACE VIEW public.all_b AS SELECT id FROM public.b;\n")
    res = migrate(empty_db, project.load(), to="0001")
    assert [p["path"] for p in res.repeatables_pending] == ["sql/views/public.all_b.sql"]
    assert 'relation "public.b" does not exist' in res.repeatables_pending[0]["waits_for"]
    assert "sql/views/public.all_a.sql" in res.repeatables  # what can apply, does
    res = migrate(empty_db, project.load())
    assert res.repeatables == ["sql/views/public.all_b.sql"] and res.repeatables_pending == []


def test_at_head_a_file_that_cannot_apply_fails_the_run(project, empty_db):
    project.write("sql/views/public.all_c.sql", "-- Every row of c.\nCREATE OR REPLACE VIEW public.all_c AS SELECT id FROM public.c;\n")
    with pytest.raises(DbtoolError, match=r'^sql/views/public.all_c.sql:2:\d+: 42P01 relation "public.c" does not exist'):
        migrate(empty_db, project.load())


def test_after_a_rollback_what_can_still_apply_is_put_back_and_the_rest_waits(project, empty_db, conn_to):
    """A rollback file drops the repeatable objects standing on what it removes (PostgreSQL refuses to
    drop a table a view reads); after the rollback dbtool re-applies every file that still can."""
    project.pair("0001_create_a", HEADER + "CREATE TABLE public.a (id int PRIMARY KEY);\n",
                 "DROP VIEW IF EXISTS public.all_a;\nDROP FUNCTION IF EXISTS public.answer();\nDROP TABLE public.a;\n")
    migrate(empty_db, project.load())
    res = rollback(empty_db, project.load(), steps=2)
    assert [p["path"] for p in res.repeatables_pending] == ["sql/views/public.all_a.sql"]
    assert answer(conn_to(empty_db)) == 42  # the function needs no table: it is back
    assert states(empty_db, project)["sql/views/public.all_a.sql"] == "pending"


def test_a_file_that_defines_another_object_than_its_name_is_refused(project, empty_db, conn_to):
    project.write("sql/functions/public.question.sql", FUNCTION.format(value=1))  # defines public.answer
    with pytest.raises(DbtoolError, match=r"^sql/functions/public.question.sql: the file ran but defines no "
                                          r"function public.question$"):
        migrate(empty_db, project.load())
    assert conn_to(empty_db).execute("SELECT to_regclass('dbtool.migrations')").fetchone()[0] is not None


def test_a_badly_named_file_is_refused_before_anything_runs(project, empty_db, conn_to):
    project.write("sql/views/all_a.sql", VIEW)
    with pytest.raises(DbtoolError, match=r"^sql/views/all_a.sql: repeatable files are named <schema>.<name>.sql"):
        migrate(empty_db, project.load())
    assert conn_to(empty_db).execute("SELECT to_regclass('public.a')").fetchone()[0] is None


def test_a_yoyo_post_apply_file_is_refused_not_skipped(project, empty_db, conn_to):
    project.write("migrations/post-apply.sql", "ANALYZE;\n")
    with pytest.raises(DbtoolError, match=r"^migrations/post-apply.sql: dbtool does not run yoyo's post-apply files"):
        migrate(empty_db, project.load())
    assert conn_to(empty_db).execute("SELECT to_regclass('public.a')").fetchone()[0] is None


def test_behind_lists_what_the_database_lacks_of_head(project, empty_db):
    from dbtool import runs
    migrate(empty_db, project.load(), to="0001")
    assert runs.behind(empty_db, project.load()) == ["0002_create_b"]
    project.write("sql/functions/public.answer.sql", FUNCTION.format(value=7))
    assert runs.behind(empty_db, project.load()) == ["0002_create_b", "sql/functions/public.answer.sql"]
    migrate(empty_db, project.load())
    assert runs.behind(empty_db, project.load()) == []
