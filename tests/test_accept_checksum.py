"""`-- dbtool-accept-checksum:`: an applied migration edited in a way that changes nothing for the
databases that applied it declares the old checksum, and every such database keeps migrating."""

from __future__ import annotations

import json

import pytest

from cli_support import run
from dbtool import migrations
from dbtool.commands.migrate import migrate
from dbtool.commands.repair import repair
from dbtool.commands.rollback import rollback
from dbtool.commands.status import status
from dbtool.errors import DbtoolError

HEADER = "-- Why: a test migration.\n"
A_V1 = HEADER + "CREATE TABLE public.a (id int PRIMARY KEY);\n"
# The edit: a branch that would fail wherever it ran; the table is the same.
A_V2_BODY = ("CREATE TABLE public.a (id int PRIMARY KEY);\n"
             "DO $$ BEGIN IF current_setting('dbtool_test.never', true) = 'on' THEN PERFORM 1/0; END IF; END $$;\n")
REASON = "the new branch runs on no server this file ever succeeded on"


def accept(checksum: str, reason: str = REASON) -> str:
    return f"-- dbtool-accept-checksum: {checksum} because {reason}\n"


@pytest.fixture
def three(tmp_project):
    tmp_project.pair("0001_create_a", A_V1, "DROP TABLE public.a;\n")
    tmp_project.pair("0002_create_b", HEADER + "CREATE TABLE public.b (id int);\n", "DROP TABLE public.b;\n")
    tmp_project.pair("0003_create_c", HEADER + "CREATE TABLE public.c (id int);\n", "DROP TABLE public.c;\n")
    return tmp_project


def edit_a(proj, *accept_lines: str, body: str = A_V2_BODY) -> str:
    """Rewrite 0001 with the given accept lines in its header; its new checksum."""
    text = HEADER + "".join(accept_lines) + body
    proj.write("migrations/0001_create_a.sql", text)
    return migrations.checksum(text)


def ledger_row(conn, mid: str = "0001_create_a") -> tuple:
    return conn.execute("SELECT checksum, rollback_checksum, applied_at FROM dbtool.migrations WHERE id = %s",
                        [mid]).fetchone()


def log_rows(conn, operation: str = "accept-checksum") -> list[tuple]:
    return conn.execute("SELECT subject, checksum, note FROM dbtool.log WHERE operation = %s ORDER BY id",
                        [operation]).fetchall()


def test_migrate_records_an_accepted_edit_and_logs_it_without_running_the_migration_again(three, empty_db, conn_to):
    migrate(empty_db, three.load(), to="0002")
    c = conn_to(empty_db)
    c.execute("INSERT INTO public.a VALUES (7)")
    before = ledger_row(c)
    new = edit_a(three, accept(migrations.checksum(A_V1)))

    res = migrate(empty_db, three.load())

    assert res.accepted == [{"id": "0001_create_a", "recorded": migrations.checksum(A_V1), "checksum": new,
                             "reason": REASON}]
    assert [m["id"] for m in res.applied] == ["0003_create_c"]  # the pending one still runs; 0001 does not
    assert c.execute("SELECT id FROM public.a").fetchall() == [(7,)]
    checksum, rollback_checksum, applied_at = ledger_row(c)
    assert (checksum, rollback_checksum, applied_at) == (new, before[1], before[2])
    assert log_rows(c) == [("0001_create_a", new, f"{REASON} (recorded checksum was {migrations.checksum(A_V1)})")]
    again = migrate(empty_db, three.load())  # an ordinary applied file from now on
    assert again.accepted == [] and again.applied == []
    assert len(log_rows(c)) == 1


def test_an_edit_whose_old_checksum_is_not_listed_is_refused_as_before(three, empty_db, conn_to):
    migrate(empty_db, three.load())
    c = conn_to(empty_db)
    recorded = ledger_row(c)[0]
    edit_a(three, accept("0" * 64))  # accepts some other version, not the one this database applied
    with pytest.raises(DbtoolError) as e:
        migrate(empty_db, three.load())
    assert e.value.message.startswith("migrations/0001_create_a.sql was edited after it was applied on ")
    assert f"(checksum {recorded[:12]} is now " in e.value.message
    assert "dbtool repair --accept 0001_create_a" in e.value.hint
    assert ledger_row(c)[0] == recorded and log_rows(c) == []
    assert [e.state for e in status(empty_db, three.load()).migrations] == ["changed", "applied", "applied"]


def test_the_refusal_hint_and_status_give_the_full_recorded_checksum_for_the_accept_line(three, empty_db):
    migrate(empty_db, three.load())
    edit_a(three)
    with pytest.raises(DbtoolError) as e:
        migrate(empty_db, three.load())
    assert f"-- dbtool-accept-checksum: {migrations.checksum(A_V1)} because <reason>" in e.value.hint
    entry = status(empty_db, three.load()).migrations[0]
    assert entry.state == "changed" and migrations.checksum(A_V1) in entry.note


def test_several_accept_lines_let_databases_at_different_old_versions_migrate(three, db_factory, conn_to):
    at_v1, at_v2 = db_factory(), db_factory()
    migrate(at_v1, three.load())
    v2 = edit_a(three, body="CREATE TABLE public.a (id int PRIMARY KEY);\n-- v2\n")
    migrate(at_v2, three.load())
    v3 = edit_a(three, accept(migrations.checksum(A_V1), "v1 built the same table"), accept(v2, "v2 too"))
    assert [a["reason"] for a in migrate(at_v1, three.load()).accepted] == ["v1 built the same table"]
    assert [a["reason"] for a in migrate(at_v2, three.load()).accepted] == ["v2 too"]
    assert ledger_row(conn_to(at_v1))[0] == ledger_row(conn_to(at_v2))[0] == v3


def test_dry_run_reports_the_accepted_edit_and_writes_nothing(three, empty_db, conn_to):
    migrate(empty_db, three.load(), to="0002")
    c = conn_to(empty_db)
    before = ledger_row(c)
    new = edit_a(three, accept(migrations.checksum(A_V1)))
    res = migrate(empty_db, three.load(), dry_run=True)
    assert [(a["id"], a["checksum"]) for a in res.accepted] == [("0001_create_a", new)]
    assert [m["id"] for m in res.applied] == ["0003_create_c"]
    assert ledger_row(c) == before and log_rows(c) == []
    cli = run("migrate", "-d", empty_db, "--project", str(three.path), "--dry-run")
    assert cli.exit_code == 0, cli.output
    assert "would record the edited 0001_create_a as applied" in cli.stdout and REASON in cli.stdout
    assert ledger_row(c) == before and log_rows(c) == []


def test_status_shows_an_accepted_edit_as_applied_with_its_reason_and_exits_0(three, empty_db):
    migrate(empty_db, three.load())
    edit_a(three, accept(migrations.checksum(A_V1)))
    proj = str(three.path)
    res = run("status", "-d", empty_db, "--project", proj, "--exit-code")
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.stdout.splitlines() if "0001_create_a" in ln)
    assert line.startswith("applied  0001_create_a")
    assert f"(edited after it was applied; the file accepts the old checksum: {REASON})" in line
    res = run("status", "-d", empty_db, "--project", proj, "--json", "--exit-code")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["counts"] == {"applied": 3}
    first = doc["migrations"][0]
    assert first["state"] == "applied" and REASON in first["note"]
    assert first["accepted"] == {"checksum": migrations.checksum(A_V1), "reason": REASON}
    migrate(empty_db, three.load())  # recorded: an ordinary applied file, no note
    entry = status(empty_db, three.load()).migrations[0]
    assert (entry.state, entry.note, entry.accepted) == ("applied", None, None)


def test_a_rollback_file_edited_too_keeps_its_status_note_until_repaired(three, empty_db, conn_to):
    migrate(empty_db, three.load())
    c = conn_to(empty_db)
    old_rollback = ledger_row(c)[1]
    edit_a(three, accept(migrations.checksum(A_V1)))
    three.write("migrations/0001_create_a.rollback.sql", "-- undo\nDROP TABLE public.a;\n")
    migrate(empty_db, three.load())
    assert ledger_row(c)[1] == old_rollback  # the directive speaks for the forward file only
    entry = status(empty_db, three.load()).migrations[0]
    assert (entry.state, entry.note) == ("applied", "rollback file edited since applied")
    repair(empty_db, three.load(), accept=["0001_create_a"])
    assert status(empty_db, three.load()).migrations[0].note is None


def test_rollback_is_not_refused_by_an_accepted_edit_and_records_it(three, empty_db, conn_to):
    migrate(empty_db, three.load())
    new = edit_a(three, accept(migrations.checksum(A_V1)))
    c = conn_to(empty_db)
    res = rollback(empty_db, three.load(), steps=1, dry_run=True)
    assert [a["id"] for a in res.accepted] == ["0001_create_a"] and log_rows(c) == []
    rollback(empty_db, three.load(), steps=1)
    assert ledger_row(c)[0] == new and [r[0] for r in log_rows(c)] == ["0001_create_a"]
    rollback(empty_db, three.load(), all_=True)  # the accepted migration's rollback file runs as usual
    assert c.execute("SELECT count(*) FROM dbtool.migrations").fetchone()[0] == 0
    assert c.execute("SELECT to_regclass('public.a')").fetchone()[0] is None


@pytest.mark.parametrize("case, line, where, message", [
    ("not hex", "-- dbtool-accept-checksum: 40aeabb1 because x\n", 2,
     "malformed `-- dbtool-accept-checksum:` line: '40aeabb1' is not a sha256 checksum"),
    ("upper-case hex", f"-- dbtool-accept-checksum: {'AB' * 32} because x\n", 2, "is not a sha256 checksum"),
    ("no reason", f"-- dbtool-accept-checksum: {'ab' * 32}\n", 2, "gives no reason: add `because"),
    ("empty reason", f"-- dbtool-accept-checksum: {'ab' * 32} because   \n", 2, "gives no reason"),
    ("no colon", f"-- dbtool-accept-checksum {'ab' * 32} because x\n", 2,
     "malformed `-- dbtool-accept-checksum:` line"),
    ("misspelt", f"-- dbtool-accept-checksums: {'ab' * 32} because x\n", 2, "malformed"),
    ("listed twice", f"-- dbtool-accept-checksum: {'ab' * 32} because x\n" * 2, 3, "already accepted on line 2"),
])
def test_a_malformed_accept_line_is_an_error_naming_file_and_line(three, empty_db, conn_to, case, line, where, message):
    edit_a(three, line)
    with pytest.raises(DbtoolError) as e:
        migrate(empty_db, three.load())
    assert e.value.message.startswith(f"migrations/0001_create_a.sql:{where}: "), e.value.message
    assert message in e.value.message
    assert e.value.hint
    assert conn_to(empty_db).execute("SELECT to_regnamespace('dbtool')").fetchone()[0] is None


def test_an_accept_line_below_the_first_statement_is_an_error_not_ignored(three, empty_db):
    edit_a(three, body=A_V2_BODY + accept(migrations.checksum(A_V1)))
    with pytest.raises(DbtoolError, match=r"^migrations/0001_create_a.sql:4: .*below the leading comment block"):
        migrate(empty_db, three.load())


def test_an_accept_line_in_a_rollback_file_is_an_error_not_ignored(three, empty_db):
    three.write("migrations/0001_create_a.rollback.sql", accept("ab" * 32) + "DROP TABLE public.a;\n")
    with pytest.raises(DbtoolError, match=r"^migrations/0001_create_a.rollback.sql:1: .*belongs in 0001_create_a.sql"):
        migrate(empty_db, three.load())
