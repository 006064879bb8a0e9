"""`dbtool status` reports what it finds, including a migrations folder migrate refuses, and shows
the database's version and how long each applied migration took (Flyway's `info`)."""

from __future__ import annotations

import json
import re

import pytest

from cli_support import run
from dbtool.commands.migrate import migrate
from dbtool.commands.rollback import rollback
from dbtool.commands.status import status
from dbtool.errors import DbtoolError

HEADER = "-- Why: a test migration.\n"


@pytest.fixture
def three(tmp_project):
    tmp_project.pair("0001_create_a", HEADER + "CREATE TABLE public.a (id int);\n", "DROP TABLE public.a;\n")
    tmp_project.pair("0002_create_b", HEADER + "CREATE TABLE public.b (id int);\n", "DROP TABLE public.b;\n")
    tmp_project.pair("0003_create_c", HEADER + "CREATE TABLE public.c (id int);\n", "DROP TABLE public.c;\n")
    return tmp_project


def states(rep) -> list[tuple[str, str]]:
    return [(e.id, e.state) for e in rep.migrations]


def test_two_migrations_with_one_number_after_a_merge_are_a_finding_and_status_still_shows_the_database(
        three, empty_db):
    migrate(empty_db, three.load(), to="0002")
    three.pair("0002_create_d", HEADER + "CREATE TABLE public.d (id int);\n", "DROP TABLE public.d;\n")
    rep = status(empty_db, three.load())
    assert states(rep) == [("0001_create_a", "applied"), ("0002_create_b", "applied"),
                           ("0002_create_d", "pending"), ("0003_create_c", "pending")]
    assert [p["problem"] for p in rep.problems] == [
        "migrations/0002_create_d.sql: duplicate migration number 0002 (also migrations/0002_create_b.sql)"]
    assert rep.problems[0]["hint"] == "give one of them the next free number"
    proj = str(three.path)
    res = run("status", "-d", empty_db, "--project", proj)
    assert res.exit_code == 0, res.output
    assert "applied  0002_create_b" in res.stdout and "pending  0002_create_d" in res.stdout
    assert "problem  migrations/0002_create_d.sql: duplicate migration number 0002" in res.stdout
    assert "1 problem(s) in migrations/: migrate and rollback refuse it" in res.stdout
    res = run("status", "-d", empty_db, "--project", proj, "--exit-code")
    assert res.exit_code == 1
    doc = json.loads(run("status", "-d", empty_db, "--project", proj, "--json").stdout)
    assert [p["problem"][:34] for p in doc["problems"]] == ["migrations/0002_create_d.sql: dupl"]
    assert doc["counts"] == {"applied": 2, "pending": 2}
    # migrate and rollback still refuse the folder, with the same message
    with pytest.raises(DbtoolError, match="^migrations/0002_create_d.sql: duplicate migration number 0002"):
        migrate(empty_db, three.load())
    with pytest.raises(DbtoolError, match="duplicate migration number"):
        rollback(empty_db, three.load())


def test_a_missing_rollback_file_is_a_finding_next_to_the_ledgers_applied_migrations(three, empty_db):
    migrate(empty_db, three.load())
    (three.path / "migrations/0002_create_b.rollback.sql").unlink()
    rep = status(empty_db, three.load())
    assert states(rep) == [("0001_create_a", "applied"), ("0002_create_b", "applied"), ("0003_create_c", "applied")]
    assert rep.migrations[1].note is None  # not "rollback file edited": it is gone, which the problem says
    assert [p["problem"] for p in rep.problems] == [
        "migrations/0002_create_b.sql: no rollback file 0002_create_b.rollback.sql"]
    assert rep.version == "0003_create_c"
    res = run("status", "-d", empty_db, "--project", str(three.path), "--exit-code", "--json")
    assert res.exit_code == 1
    assert json.loads(res.stdout)["problems"][0]["problem"].endswith("no rollback file 0002_create_b.rollback.sql")
    with pytest.raises(DbtoolError, match="no rollback file"):
        rollback(empty_db, three.load(), steps=1)


def test_every_problem_of_the_folder_is_listed_not_only_the_first(three, empty_db):
    three.write("migrations/0004_create_e.sql", HEADER + "CREATE TABLE public.e (id int);\n")  # no rollback
    three.write("migrations/0005_create_f.sql", HEADER + "CREATE TABLE public.f (id int);\nSELECT 'oops;\n")
    three.write("migrations/0005_create_f.rollback.sql", "DROP TABLE public.f;\n")
    three.write("migrations/0006_create_g.sql", HEADER + "CREATE TABLE public.g (id int);\n")
    three.write("migrations/0006_create_g.rollback.sql", "-- nothing\n")  # empty
    three.write("migrations/0099_orphan.rollback.sql", "SELECT 1;\n")
    rep = status(empty_db, three.load())
    assert [e.id for e in rep.migrations][-3:] == ["0004_create_e", "0005_create_f", "0006_create_g"]
    assert {e.state for e in rep.migrations} == {"pending"}
    found = [p["problem"] for p in rep.problems]
    assert len(found) == 4, found
    assert found[0].startswith("migrations/0099_orphan.rollback.sql: rollback file without a migration")
    assert found[1] == "migrations/0004_create_e.sql: no rollback file 0004_create_e.rollback.sql"
    assert found[2].startswith("migrations/0005_create_f.sql:3: unterminated quoted string")
    assert found[3] == "migrations/0006_create_g.rollback.sql: the rollback file has no SQL statements"


def test_status_shows_the_current_version_and_each_applied_migrations_duration(three, empty_db, conn_to):
    migrate(empty_db, three.load(), to="0002")
    conn_to(empty_db).execute("UPDATE dbtool.migrations SET duration_ms = 1234 WHERE id = '0002_create_b'")
    rep = status(empty_db, three.load())
    assert rep.version == "0002_create_b"
    assert rep.migrations[1].duration_ms == 1234 and isinstance(rep.migrations[0].duration_ms, int)
    assert rep.migrations[2].duration_ms is None  # pending
    proj = str(three.path)
    res = run("status", "-d", empty_db, "--project", proj)
    line = next(ln for ln in res.stdout.splitlines() if "0002_create_b" in ln)
    assert re.match(r"^applied  0002_create_b  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\S* by postgres in 1234 ms$", line), line
    name = empty_db.rsplit("/", 1)[1]
    assert res.stdout.splitlines()[-1].startswith(f"{name}: at 0002_create_b; 2 applied, 1 pending")
    doc = json.loads(run("status", "-d", empty_db, "--project", proj, "--json").stdout)
    assert doc["version"] == "0002_create_b"
    assert [m.get("duration_ms") for m in doc["migrations"]][1:] == [1234, None]


def test_an_empty_database_has_no_version(three, empty_db):
    assert status(empty_db, three.load()).version is None
    res = run("status", "-d", empty_db, "--project", str(three.path))
    assert ": at no migration (none applied); 3 pending" in res.stdout
    assert json.loads(run("status", "-d", empty_db, "--project", str(three.path), "--json").stdout)["version"] is None
