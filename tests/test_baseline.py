"""`dbtool baseline --to ID`: a database that already has the schema of the migrations up to ID (run
by hand with psql, or with an older ledger) gets them recorded without running them, only when its
catalog is what they build; then `dbtool migrate` applies only the rest."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from cli_support import run
from dbtool import catalog, cluster, ledger
from dbtool import snapshots as snap_cmd
from dbtool.commands.baseline import baseline
from dbtool.commands.migrate import migrate
from dbtool.engine import Settings
from dbtool.errors import DbtoolError, UsageError

HEADER = "-- Why: a test migration.\n"


def by_hand(url: str, paths: list[Path]) -> None:
    """Run SQL files as a DBA would, with psql and no dbtool: a transactional migration in one
    transaction (-1, so its SET LOCAL ROLE holds), a `-- transactional: false` one statement by statement."""
    psql = str(cluster.find_bindir() / "psql")
    for path in paths:
        single = ["-1"] if "-- transactional: false" not in path.read_text() else []
        subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, *single, "-f", str(path)],
                       check=True, capture_output=True, text=True)


def migration_files(project, upto: str) -> list[Path]:
    files = sorted(p for p in project.migrations_dir.glob("*.sql") if not p.name.endswith(".rollback.sql"))
    return [p for p in files if p.stem <= upto]


def recorded(conn) -> list[str]:
    if not conn.execute("SELECT to_regclass('dbtool.migrations')").fetchone()[0]:
        return []
    return [r[0] for r in conn.execute("SELECT id FROM dbtool.migrations ORDER BY id")]


def has_ledger(conn) -> bool:
    return conn.execute("SELECT to_regnamespace('dbtool') IS NOT NULL").fetchone()[0]


@pytest.fixture
def small(tmp_project):
    """Three migrations, a repeatable function and a repeatable view that uses the first table."""
    tmp_project.pair("0001_create_a", HEADER + "CREATE TABLE public.a (id integer PRIMARY KEY, name text);\n",
                     "DROP TABLE public.a;\n")
    tmp_project.pair("0002_add_a_note", HEADER + "ALTER TABLE public.a ADD COLUMN note text;\n",
                     "ALTER TABLE public.a DROP COLUMN note;\n")
    tmp_project.pair("0003_create_b", HEADER + "CREATE TABLE public.b (id integer PRIMARY KEY);\n",
                     "DROP TABLE public.b;\n")
    tmp_project.write("sql/functions/public.a_count.sql",
                      "CREATE OR REPLACE FUNCTION public.a_count() RETURNS bigint LANGUAGE sql STABLE\n"
                      "AS $$ SELECT count(*) FROM public.a $$;\n")
    tmp_project.write("sql/views/public.a_names.sql", "DROP VIEW IF EXISTS public.a_names;\n"
                      "CREATE VIEW public.a_names AS SELECT id, name FROM public.a;\n")
    return tmp_project


# ----- the real schema, run by hand -------------------------------------------------------------

def test_baseline_records_the_migrations_run_by_hand_and_migrate_then_applies_only_the_rest(
        empty_db, migrated_db, project, conn_to):
    by_hand(empty_db, migration_files(project, "0010_create_pipeline_analytics"))
    conn = conn_to(empty_db)
    assert not has_ledger(conn)

    res = baseline(empty_db, project, to="0010")  # built in a throwaway local cluster, the default

    ids = [p.stem for p in migration_files(project, "0010_create_pipeline_analytics")]
    assert not res.refused and res.compared and res.to == "0010_create_pipeline_analytics"
    assert res.recorded == ids and recorded(conn) == ids
    # the repeatable objects were not run by hand: left for migrate, nothing recorded for them
    assert res.repeatables == [] and {r["reason"] for r in res.repeatables_left} <= {"missing", "waits"}
    assert conn.execute("SELECT count(*) FROM dbtool.repeatables").fetchone()[0] == 0
    rows = conn.execute("SELECT operation, subject, username, hostname, duration_ms FROM dbtool.log "
                        "ORDER BY id").fetchall()
    user = conn.execute("SELECT session_user").fetchone()[0]
    assert rows == [("baseline", i, user, socket.gethostname(), None) for i in ids]
    assert conn.execute("SELECT count(*) FROM dbtool.migrations WHERE duration_ms IS NOT NULL").fetchone()[0] == 0

    after = migrate(empty_db, project)
    assert [m["id"] for m in after.applied] == [m.stem for m in migration_files(project, "9999")][len(ids):]
    assert sorted(after.repeatables) == sorted(str(p.relative_to(project.root))
                                               for p in project.sql_dir.glob("*/*.sql"))
    assert after.cron["scheduled"]  # the declared pg_cron jobs, which baseline does not compare
    # the result is the schema `dbtool migrate` builds from nothing (a clone of the session's template)
    built, got = snap_cmd.take(migrated_db).data, snap_cmd.take(empty_db).data
    built.pop("cron_job"), got.pop("cron_job")  # the template is migrated without scheduling them
    assert catalog.diff(built, got) == []


def test_baseline_refuses_a_database_missing_a_table_and_writes_nothing(empty_db, project, conn_to, server):
    by_hand(empty_db, migration_files(project, "0007_create_activities_and_tasks"))
    conn = conn_to(empty_db)
    conn.execute("DROP TABLE public.tasks CASCADE")

    res = baseline(empty_db, project, to="0007", server_url=server.url())

    assert res.refused and res.recorded == []
    assert ("removed", "table", "public.tasks") in [(c.action, c.kind, c.name) for c in res.changes]
    assert {c.action for c in res.changes} == {"removed"}  # the table and what hung on it, nothing else
    assert not has_ledger(conn)


# ----- a small project: every path ---------------------------------------------------------------

def test_baseline_refuses_an_altered_column_lists_it_like_drift_and_writes_nothing(small, empty_db, conn_to, server):
    by_hand(empty_db, migration_files(small.load(), "0002_add_a_note"))
    conn = conn_to(empty_db)
    conn.execute("ALTER TABLE public.a ALTER COLUMN note TYPE varchar(20)")

    res = baseline(empty_db, small.load(), to="0002", server_url=server.url())

    assert [(c.action, c.kind, c.name, c.before, c.after) for c in res.changes] == [
        ("changed", "column", "public.a.note", {"type": "text"}, {"type": "character varying(20)"})]
    assert not has_ledger(conn)
    cli = run("baseline", "--to", "0002", "-d", empty_db, "--project", str(small.path), "--server-url", server.url())
    assert cli.exit_code == 1
    assert cli.stdout.splitlines()[0] == "changed  column  public.a.note"
    assert "does not match what migrations/ and sql/ build up to 0002_add_a_note: 1 difference(s)" in cli.stderr
    assert "nothing was recorded" in cli.stderr and "hint:" in cli.stderr
    assert not has_ledger(conn)


def test_baseline_records_repeatable_files_whose_objects_exist_and_leaves_the_others_to_migrate(
        small, empty_db, conn_to, server):
    proj = small.load()
    by_hand(empty_db, migration_files(proj, "0002_add_a_note") + [small.path / "sql/functions/public.a_count.sql"])

    res = baseline(empty_db, proj, to="0002", server_url=server.url())

    assert res.recorded == ["0001_create_a", "0002_add_a_note"]
    assert res.repeatables == ["sql/functions/public.a_count.sql"]
    assert res.repeatables_left == [{"path": "sql/views/public.a_names.sql", "reason": "missing"}]
    conn = conn_to(empty_db)
    assert conn.execute("SELECT path, identity FROM dbtool.repeatables").fetchall() == [
        ("sql/functions/public.a_count.sql", "a_count()")]
    after = migrate(empty_db, proj)
    assert [m["id"] for m in after.applied] == ["0003_create_b"]
    assert after.repeatables == ["sql/views/public.a_names.sql"]  # the function is not run again
    assert migrate(empty_db, proj).repeatables == []


def test_a_repeatable_object_that_differs_is_left_for_migrate_to_replace(small, empty_db, conn_to, server):
    proj = small.load()
    by_hand(empty_db, migration_files(proj, "0002_add_a_note"))
    conn = conn_to(empty_db)
    conn.execute("CREATE FUNCTION public.a_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT 42::bigint $$")

    res = baseline(empty_db, proj, to="0002", server_url=server.url())

    assert not res.refused and res.repeatables == []
    assert {r["path"]: r["reason"] for r in res.repeatables_left} == {
        "sql/functions/public.a_count.sql": "differs", "sql/views/public.a_names.sql": "missing"}
    migrate(empty_db, proj)
    assert conn.execute("SELECT public.a_count()").fetchone()[0] == 0  # the file's body, not the hand-made one


def test_baseline_dry_run_compares_and_lists_but_writes_nothing(small, empty_db, conn_to, server):
    proj = small.load()
    by_hand(empty_db, migration_files(proj, "0003_create_b"))

    res = baseline(empty_db, proj, to="0003", server_url=server.url(), dry_run=True)

    assert res.dry_run and res.compared and not res.refused
    assert res.recorded == ["0001_create_a", "0002_add_a_note", "0003_create_b"]
    assert not has_ledger(conn_to(empty_db))
    cli = run("baseline", "--to", "0003", "--dry-run", "-d", empty_db, "--project", str(small.path),
              "--server-url", server.url())
    assert cli.exit_code == 0, cli.output
    assert "would record 0001_create_a as applied (not run)" in cli.stdout
    assert "would record 3 migration(s) up to 0003_create_b without running them" in cli.stdout
    assert not has_ledger(conn_to(empty_db))


def test_baseline_on_an_older_ledger_records_only_what_it_lacks(small, empty_db, conn_to, server):
    proj = small.load()
    migrate(empty_db, proj, to="0001")  # dbtool's ledger up to 0001 (repeatables too) ...
    by_hand(empty_db, migration_files(proj, "0002_add_a_note")[1:])  # ... then 0002 by hand

    res = baseline(empty_db, proj, to="0002", server_url=server.url())

    assert res.already == ["0001_create_a"] and res.recorded == ["0002_add_a_note"]
    assert res.repeatables == [] and res.repeatables_left == []  # recorded by migrate, and they match
    conn = conn_to(empty_db)
    assert recorded(conn) == ["0001_create_a", "0002_add_a_note"]
    assert [m["id"] for m in migrate(empty_db, proj).applied] == ["0003_create_b"]


def test_baseline_refuses_when_a_later_migration_is_recorded(small, empty_db, conn_to, server):
    proj = small.load()
    migrate(empty_db, proj)
    conn = conn_to(empty_db)
    before = conn.execute("SELECT count(*) FROM dbtool.log").fetchone()[0]

    with pytest.raises(DbtoolError) as e:
        baseline(empty_db, proj, to="0001", server_url=server.url())

    assert e.value.exit_code == 3
    assert "records 0003_create_b as applied, which comes after 0001_create_a" in e.value.message
    assert conn.execute("SELECT count(*) FROM dbtool.log").fetchone()[0] == before
    cli = run("baseline", "--to", "0001", "-d", empty_db, "--project", str(small.path), "--server-url", server.url())
    assert cli.exit_code == 3 and "error:" in cli.stderr and "hint:" in cli.stderr


def test_baseline_refuses_a_ledger_whose_recorded_file_was_edited(small, empty_db, server):
    proj = small.load()
    migrate(empty_db, proj, to="0001")
    small.write("migrations/0001_create_a.sql", HEADER + "CREATE TABLE public.a (id bigint PRIMARY KEY, name text);\n")
    with pytest.raises(DbtoolError, match="0001_create_a.sql was edited after it was applied"):
        baseline(empty_db, small.load(), to="0002", server_url=server.url())


def test_baseline_of_migrations_already_recorded_does_nothing(small, empty_db, conn_to, server):
    proj = small.load()
    migrate(empty_db, proj)
    res = baseline(empty_db, proj, to="0003", server_url=server.url())
    assert res.recorded == [] and not res.compared and not res.refused
    assert res.already == ["0001_create_a", "0002_add_a_note", "0003_create_b"]
    assert conn_to(empty_db).execute("SELECT count(*) FROM dbtool.log WHERE operation = 'baseline'").fetchone()[0] == 0
    cli = run("baseline", "--to", "0003", "-d", empty_db, "--project", str(small.path), "--server-url", server.url())
    assert cli.exit_code == 0 and "nothing to do" in cli.stdout


def test_baseline_waits_for_the_migration_lock_and_names_its_holder(small, empty_db, conn_to, server):
    proj = small.load()
    by_hand(empty_db, migration_files(proj, "0001_create_a"))
    holder = conn_to(empty_db)
    holder.execute("SELECT pg_advisory_lock(%s)", [ledger.LOCK_KEY])
    with pytest.raises(DbtoolError, match="another dbtool run holds the migration lock"):
        baseline(empty_db, proj, to="0001", server_url=server.url(), settings=Settings(lock_wait="200ms"))
    assert not has_ledger(conn_to(empty_db))


def test_baseline_to_an_unknown_migration_is_a_usage_error(small, empty_db, server):
    with pytest.raises(UsageError, match="--to 0009: no such migration"):
        baseline(empty_db, small.load(), to="0009", server_url=server.url())
    cli = run("baseline", "--to", "0009", "-d", empty_db, "--project", str(small.path), "--server-url", server.url())
    assert cli.exit_code == 2 and "no such migration" in cli.stderr
    assert run("baseline", "-d", empty_db, "--project", str(small.path)).exit_code == 2  # --to is required


def test_baseline_json_reports_what_it_recorded_and_what_it_refused(small, empty_db, conn_to, server):
    proj = small.load()
    by_hand(empty_db, migration_files(proj, "0002_add_a_note"))
    args = ["baseline", "--to", "0002", "-d", empty_db, "--project", str(small.path), "--json",
            "--server-url", server.url()]

    conn = conn_to(empty_db)
    conn.execute("ALTER TABLE public.a DROP COLUMN name")
    refused = run(*args)
    doc = json.loads(refused.stdout)
    assert refused.exit_code == 1 and doc["refused"] is True and doc["recorded"] == []
    assert doc["changes"] == [{"action": "removed", "kind": "column", "name": "public.a.name", "after": None,
                               "before": {"not_null": False, "position": 2, "type": "text"}},
                              {"action": "changed", "kind": "column", "name": "public.a.note",
                               "before": {"position": 3}, "after": {"position": 2}}]
    assert not has_ledger(conn)

    conn.execute("DROP TABLE public.a; CREATE TABLE public.a (id integer PRIMARY KEY, name text, note text)")
    done = run(*args)
    doc = json.loads(done.stdout)
    assert done.exit_code == 0, done.output
    assert doc == {"database": doc["database"], "to": "0002_add_a_note", "dry_run": False,
                   "recorded": ["0001_create_a", "0002_add_a_note"], "already": [], "accepted": [],
                   "repeatables": [], "compared": True, "changes": [], "refused": False,
                   "repeatables_left": [{"path": "sql/functions/public.a_count.sql", "reason": "missing"},
                                        {"path": "sql/views/public.a_names.sql", "reason": "missing"}]}
    assert recorded(conn) == ["0001_create_a", "0002_add_a_note"]
    assert conn.execute("SELECT count(*) FROM dbtool.log WHERE operation = 'baseline'").fetchone()[0] == 2


def test_a_scratch_server_of_another_timescaledb_edition_is_refused_before_building(
        small, empty_db, conn_to, server, monkeypatch):
    from dbtool.commands import baseline as baseline_module

    by_hand(empty_db, migration_files(small.load(), "0001_create_a"))
    real, calls = baseline_module._server, []

    def other_edition_for_the_build(conn):  # the first call reads the database's server, the second the build's
        major, edition = real(conn)
        calls.append(edition)
        return (major, "timescale" if len(calls) == 2 else "apache")

    monkeypatch.setattr(baseline_module, "_server", other_edition_for_the_build)
    with pytest.raises(UsageError, match="TimescaleDB's 'apache' edition, but a scratch database on .* runs "
                                         "'timescale'"):
        baseline(empty_db, small.load(), to="0001", server_url=server.url())
    assert len(calls) == 2 and not has_ledger(conn_to(empty_db))
    assert not conn_to(server.url()).execute(  # refused before a scratch database was made
        "SELECT 1 FROM pg_database WHERE datname LIKE 'dbtool_scratch_%'").fetchall()
