"""`dbtool log`: every apply, rollback, repair, accepted checksum and baseline, newest first, with who,
when and how long; and ledgers older than the duration column gain it without losing a row."""

from __future__ import annotations

import json
import socket
from datetime import datetime

import pytest

from cli_support import run
from dbtool import ledger
from dbtool.commands.baseline import baseline
from dbtool.commands.log import log
from dbtool.commands.migrate import migrate
from dbtool.commands.repair import repair
from dbtool.commands.rollback import rollback
from dbtool.errors import UsageError
from dbtool.migrations import checksum
from test_baseline import by_hand

HEADER = "-- Why: a test migration.\n"


@pytest.fixture
def four(tmp_project):
    for n, name in enumerate("abcd", 1):
        tmp_project.pair(f"000{n}_create_{name}", HEADER + f"CREATE TABLE public.{name} (id integer);\n",
                         f"DROP TABLE public.{name};\n")
    return tmp_project


def history(url: str, limit: int | None = None) -> list[tuple]:
    return [(e.operation, e.subject) for e in log(url, limit=limit).entries]


def test_log_lists_apply_rollback_repair_and_baseline_newest_first_with_who_and_how_long(
        four, empty_db, conn_to, server):
    migrate(empty_db, four.load())                                   # apply 0001..0004
    rollback(empty_db, four.load(), steps=1)                         # rollback 0004
    (four.path / "migrations/0003_create_c.sql").unlink()            # 0003 deleted on purpose, its
    (four.path / "migrations/0003_create_c.rollback.sql").unlink()   # table dropped by hand ...
    conn_to(empty_db).execute("DROP TABLE public.c")
    repair(empty_db, four.load(), forget=["0003_create_c"], reason="folded into 0001")
    four.write("migrations/0001_create_a.sql", HEADER + "-- a comment\nCREATE TABLE public.a (id integer);\n")
    repair(empty_db, four.load(), accept=["0001_create_a"])          # ... and 0001 edited harmlessly
    by_hand(empty_db, [four.path / "migrations/0004_create_d.sql"])  # 0004 put back by hand
    baseline(empty_db, four.load(), to="0004", server_url=server.url())

    rep = log(empty_db)

    assert rep.ledger and rep.database == conn_to(empty_db).info.dbname
    assert [(e.operation, e.subject) for e in rep.entries] == [
        ("baseline", "0004_create_d"), ("repair-accept", "0001_create_a"), ("repair-forget", "0003_create_c"),
        ("rollback", "0004_create_d"), ("apply", "0004_create_d"), ("apply", "0003_create_c"),
        ("apply", "0002_create_b"), ("apply", "0001_create_a")]
    timed = {e.operation for e in rep.entries if e.duration_ms is not None}
    assert timed == {"apply", "rollback"}
    assert all(e.duration_ms >= 0 for e in rep.entries if e.operation in timed)
    user = conn_to(empty_db).execute("SELECT session_user").fetchone()[0]
    assert {(e.username, e.hostname) for e in rep.entries} == {(user, socket.gethostname())}
    assert [e.at for e in rep.entries] == sorted((e.at for e in rep.entries), reverse=True)
    assert rep.entries[2].note == "folded into 0001"
    # migrate's own record of an apply and the log row agree on its duration
    durations = dict(conn_to(empty_db).execute("SELECT id, duration_ms FROM dbtool.migrations").fetchall())
    assert {e.subject: e.duration_ms for e in rep.entries if e.operation == "apply"
            and e.subject in durations and e.subject != "0004_create_d"} == {
        k: v for k, v in durations.items() if k != "0004_create_d"}


def test_log_shows_an_accepted_checksum(four, empty_db):
    migrate(empty_db, four.load(), to="0001")
    old = four.load().migrations_dir / "0001_create_a.sql"
    before = checksum(old.read_text())
    four.write("migrations/0001_create_a.sql", HEADER + f"-- dbtool-accept-checksum: {before} because a comment\n"
               "CREATE TABLE public.a (id integer);\n")
    migrate(empty_db, four.load(), to="0001")
    entry = log(empty_db, limit=1).entries[0]
    assert (entry.operation, entry.subject, entry.duration_ms) == ("accept-checksum", "0001_create_a", None)
    assert before in entry.note


def test_log_limit_keeps_the_newest_entries(four, empty_db):
    migrate(empty_db, four.load())
    assert history(empty_db, limit=2) == [("apply", "0004_create_d"), ("apply", "0003_create_c")]
    with pytest.raises(UsageError, match="--limit must be at least 1"):
        log(empty_db, limit=0)
    assert run("log", "--limit", "0", "-d", empty_db).exit_code == 2


def test_log_of_a_database_without_a_ledger_is_empty_and_exit_0(empty_db, conn_to):
    rep = log(empty_db)
    assert not rep.ledger and rep.entries == []
    text = run("log", "-d", empty_db)
    assert text.exit_code == 0 and "no dbtool.log: dbtool has recorded nothing in this database" in text.stdout
    doc = run("log", "-d", empty_db, "--json")
    assert doc.exit_code == 0
    assert json.loads(doc.stdout) == {"database": conn_to(empty_db).info.dbname, "ledger": False, "entries": []}
    assert conn_to(empty_db).execute("SELECT to_regnamespace('dbtool')").fetchone()[0] is None  # only read


def test_log_command_prints_one_line_per_entry_and_json(four, empty_db):
    migrate(empty_db, four.load(), to="0002")
    rollback(empty_db, four.load(), steps=1)

    text = run("log", "-d", empty_db)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert len(lines) == 3
    assert "  rollback        0002_create_b  " in lines[0] and " ms  " in lines[0]
    assert f"@{socket.gethostname()}" in lines[0]
    assert "  apply           0001_create_a  " in lines[2]

    doc = json.loads(run("log", "-d", empty_db, "--json", "--limit", "1").stdout)
    assert [set(e) for e in doc["entries"]] == [{"id", "at", "operation", "subject", "checksum", "username",
                                                 "hostname", "duration_ms", "note"}]
    entry = doc["entries"][0]
    assert (entry["operation"], entry["subject"], doc["ledger"]) == ("rollback", "0002_create_b", True)
    assert isinstance(entry["duration_ms"], int) and datetime.fromisoformat(entry["at"])


def test_a_ledger_older_than_the_duration_column_reads_and_upgrades_on_the_next_run(four, empty_db, conn_to):
    migrate(empty_db, four.load(), to="0002")
    conn = conn_to(empty_db)
    conn.execute("ALTER TABLE dbtool.log DROP COLUMN duration_ms")  # as a ledger of the first release
    assert not ledger.log_has_duration(conn)

    assert [e.duration_ms for e in log(empty_db).entries] == [None, None]  # read as it is, not altered
    repair(empty_db, four.load(), accept=["0001_create_a"])  # no duration to write: works on the old ledger
    assert not ledger.log_has_duration(conn)

    rollback(empty_db, four.load(), steps=1)  # rollback upgrades the ledger, then records its duration
    assert ledger.log_has_duration(conn)
    migrate(empty_db, four.load())
    assert [(e.operation, e.subject, e.duration_ms is not None) for e in log(empty_db).entries] == [
        ("apply", "0004_create_d", True), ("apply", "0003_create_c", True), ("apply", "0002_create_b", True),
        ("rollback", "0002_create_b", True), ("repair-accept", "0001_create_a", False),
        ("apply", "0002_create_b", False), ("apply", "0001_create_a", False)]


def test_migrate_upgrades_an_old_ledger_too(four, empty_db, conn_to):
    migrate(empty_db, four.load(), to="0001")
    conn = conn_to(empty_db)
    conn.execute("ALTER TABLE dbtool.log DROP COLUMN duration_ms")
    migrate(empty_db, four.load(), to="0002")
    assert ledger.log_has_duration(conn)
    assert log(empty_db, limit=1).entries[0].duration_ms is not None
