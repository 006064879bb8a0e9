"""Migrations under live traffic: a migration that times out behind another session's lock is rolled
back and retried with growing pauses, under the migration lock, each retry reported with the session
it waited for and written to dbtool.log; after the last retry the error names that session and what to
do. The application's transactions are never ended by dbtool: only the migration gives way."""

from __future__ import annotations

import queue
import threading
import time

import psycopg
import pytest

from cli_support import run
from dbtool import lockretry
from dbtool.commands.log import line, log
from dbtool.commands.migrate import migrate
from dbtool.engine import Settings
from dbtool.errors import DbtoolError
from dbtool.ledger import LOCK_KEY
from schema_support import APP, acting_as, seed_tenant, tenant_token

HEADER = "-- Why: a test migration.\n"
# Short waits, so that a test takes a second or two: 200 ms lock_timeout, pauses from 50 to 200 ms.
FAST = dict(lock_timeout="200ms", lock_retry_delay="50ms", lock_retry_max_delay="200ms")
PYPROJECT = ('[tool.dbtool]\nowner_role = "maplatform_owner"\nlock_timeout = "200ms"\n'
             'lock_retry_delay = "50ms"\nlock_retry_max_delay = "200ms"\n')


@pytest.fixture
def one_table(tmp_project, empty_db):
    """Table public.a applied, and a pending migration that needs an ACCESS EXCLUSIVE lock on it."""
    tmp_project.pair("0001_create_a", HEADER + "CREATE TABLE public.a (id int PRIMARY KEY);\n", "DROP TABLE public.a;\n")
    (tmp_project.path / "pyproject.toml").write_text(PYPROJECT)
    migrate(empty_db, tmp_project.load())
    tmp_project.pair("0002_alter_a", HEADER + "ALTER TABLE public.a ADD COLUMN note text;\n",
                     "ALTER TABLE public.a DROP COLUMN note;\n")
    return tmp_project


def holding(url: str, sql: str) -> psycopg.Connection:
    """A second session with an open transaction that ran `sql` (and so holds its locks)."""
    c = psycopg.connect(url, application_name="blocker")
    c.execute(sql)
    return c


def in_thread(fn, *args, **kw) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def target():
        try:
            out["result"] = fn(*args, **kw)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, out


def columns(url: str, table: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as c:
        return {r[0] for r in c.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                                        "AND attnum > 0 AND NOT attisdropped", [table])}


def test_migrate_retries_behind_a_held_lock_and_applies_the_migration_once_it_is_released(one_table, empty_db,
                                                                                            conn_to):
    blocker = holding(empty_db, "SELECT * FROM public.a")
    pid = blocker.info.backend_pid
    events: queue.Queue = queue.Queue()
    settings = Settings(**FAST, lock_retries=50)
    t, out = in_thread(migrate, empty_db, one_table.load(), settings=settings,
                       progress=lambda event, subject, info: events.put((event, subject, info)))
    retry = next(info for event, _, info in iter(lambda: events.get(timeout=20), None) if event == "retry")
    assert [b.pid for b in retry["blockers"]] == [pid]
    assert retry["blockers"][0].query_start is not None and retry["blockers"][0].application == "blocker"
    assert f"behind pid {pid} (" in retry["message"] and "query started" in retry["message"]
    assert not conn_to(empty_db).execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]  # still held
    blocker.commit()
    t.join(30)
    blocker.close()
    assert "error" not in out, out.get("error")
    applied = out["result"].applied
    assert [a["id"] for a in applied] == ["0002_alter_a"] and applied[0]["attempts"] > 1
    assert "note" in columns(empty_db, "public.a")
    entries = log(empty_db).entries
    timeouts = [e for e in entries if e.operation == "lock-timeout"]
    assert len(timeouts) == applied[0]["attempts"] - 1 and all(e.subject == "0002_alter_a" for e in timeouts)
    assert f"behind pid {pid}" in timeouts[-1].note and "retried in" in timeouts[-1].note
    assert entries[0].operation == "apply" and entries[0].note.startswith(f"attempt {applied[0]['attempts']} of 51")
    assert "lock-timeout" in line(timeouts[0]) and "attempt 1 of 51: lock timeout" in line(timeouts[-1])


def test_migrate_gives_up_after_its_last_retry_naming_the_blocker_and_what_to_do(one_table, empty_db):
    blocker = holding(empty_db, "SELECT * FROM public.a")
    pid = blocker.info.backend_pid
    try:
        res = run("migrate", "-d", empty_db, "--project", str(one_table.path), "--lock-retries", "2", "-q")
        assert res.exit_code == 3, res.output
        warnings = [ln for ln in res.stderr.splitlines() if ln.startswith("warning:")]
        assert len(warnings) == 2 and all(f"behind pid {pid} (" in w for w in warnings)
        assert "0002_alter_a: lock timeout (lock_timeout 200ms) on attempt 1 of 3" in warnings[0]
        error = next(ln for ln in res.stderr.splitlines() if ln.startswith("error:"))
        assert error.startswith("error: migrations/0002_alter_a.sql:2:1: 55P03 canceling statement due to lock timeout")
        assert "on each of 3 attempt(s)" in error and f"blocked by pid {pid} (" in error
        assert f"pid {pid}: " in res.stderr and "application blocker" in res.stderr
        hint = next(ln for ln in res.stderr.splitlines() if ln.startswith("hint:"))
        assert f"pg_terminate_backend({pid})" in hint and "dbtool migrate again" in hint and "--lock-retries" in hint
        assert "note" not in columns(empty_db, "public.a")
        notes = [e.note for e in log(empty_db).entries if e.operation == "lock-timeout"]
        assert len(notes) == 3 and notes[0].endswith("gave up") and notes[-1].startswith("attempt 1 of 3")
        blocker.execute("INSERT INTO public.a VALUES (1)")  # the blocker was left alone and goes on
        blocker.commit()
    finally:
        blocker.close()


def test_an_application_transaction_is_never_ended_by_migrate_whether_it_gives_up_or_retries(
        tmp_project, migrated_db, conn_to):
    """The application, as maplatform_app with a verified tenant token: one transaction that updated a
    deal and stays open (it blocks the ALTER), another session reading deals all along (it queues
    behind the ALTER while the ALTER waits). migrate gives way both times: on giving up, and on a
    retry that succeeds once the first transaction has committed."""
    tmp_project.copy_real_migrations()
    (tmp_project.path / "pyproject.toml").write_text(PYPROJECT)
    tmp_project.pair("9001_add_deal_region", HEADER + "SET LOCAL ROLE maplatform_owner;\n"
                     "ALTER TABLE public.deals ADD COLUMN region text;\n",
                     "SET LOCAL ROLE maplatform_owner;\nALTER TABLE public.deals DROP COLUMN region;\n")
    ids = seed_tenant(conn_to(migrated_db), "acme")
    tenant_token(conn_to(migrated_db), ids["tenant"])  # the signing key, committed before both sessions use it
    writer, reader = psycopg.connect(migrated_db), psycopg.connect(migrated_db, autocommit=True)
    stop, reads = threading.Event(), {"ok": 0, "errors": []}

    def read_deals():
        while not stop.is_set():
            try:
                with acting_as(reader, APP, ids["tenant"]):
                    reader.execute("SELECT count(*) FROM public.deals").fetchone()
                reads["ok"] += 1
            except psycopg.Error as exc:
                reads["errors"].append(exc)
            time.sleep(0.01)
    with acting_as(writer, APP, ids["tenant"], keep=True):
        writer.execute("UPDATE public.deals SET value = 2000 WHERE id = %s", [ids["deal"]])
        pids = {writer.info.backend_pid, reader.info.backend_pid}
        t = threading.Thread(target=read_deals, daemon=True)
        t.start()
        with pytest.raises(DbtoolError, match=f"blocked by pid {writer.info.backend_pid} "):
            migrate(migrated_db, tmp_project.load(), settings=Settings(**FAST, lock_retries=2), sync_cron=False)
        alive = {r[0] for r in conn_to(migrated_db).execute("SELECT pid FROM pg_stat_activity")}
        assert pids <= alive
        retrying, out = in_thread(migrate, migrated_db, tmp_project.load(), settings=Settings(**FAST, lock_retries=50),
                                  sync_cron=False)
        time.sleep(0.5)  # it is retrying behind the open transaction now
    # the block commits the UPDATE (`keep`): the retry goes through
    retrying.join(30)
    writer.close()
    stop.set()
    t.join(5)
    reader.close()
    assert "error" not in out and out["result"].applied[0]["attempts"] > 1
    assert reads["errors"] == [] and reads["ok"] > 0
    value = conn_to(migrated_db).execute("SELECT value FROM public.deals WHERE id = %s", [ids["deal"]]).fetchone()[0]
    assert value == 2000 and "region" in columns(migrated_db, "public.deals")


def test_a_concurrent_index_build_that_times_out_is_retried_without_leaving_an_invalid_index(
        one_table, empty_db, conn_to):
    (one_table.path / "pyproject.toml").write_text(PYPROJECT + 'concurrent_lock_timeout = "200ms"\n')
    (one_table.path / "migrations/0002_alter_a.sql").unlink()
    (one_table.path / "migrations/0002_alter_a.rollback.sql").unlink()
    one_table.pair("0002_index_a", HEADER + "-- transactional: false\n"
                   "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_id_idx ON public.a (id);\n",
                   "DROP INDEX CONCURRENTLY IF EXISTS public.a_id_idx;\n")
    blocker = holding(empty_db, "INSERT INTO public.a VALUES (1)")  # the build waits for this writer to end
    events: queue.Queue = queue.Queue()
    t, out = in_thread(migrate, empty_db, one_table.load(), settings=Settings.from_project(one_table.load()),
                       progress=lambda event, subject, info: events.put(event))
    assert next(e for e in iter(lambda: events.get(timeout=20), None) if e == "retry")
    blocker.commit()
    blocker.close()
    t.join(30)
    assert "error" not in out, out.get("error")
    assert out["result"].applied[0]["attempts"] > 1
    valid = conn_to(empty_db).execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.a_id_idx'::regclass")
    assert valid.fetchall() == [(True,)]


def test_a_procedure_call_that_times_out_is_not_retried(one_table, empty_db):
    """A CALL (or DO) outside a transaction may have committed part of its work before the timeout."""
    (one_table.path / "migrations/0002_alter_a.sql").unlink()
    (one_table.path / "migrations/0002_alter_a.rollback.sql").unlink()
    one_table.pair("0002_call_a", HEADER + "-- transactional: false\n"
                   "CREATE PROCEDURE public.touch_a() LANGUAGE sql AS $$ LOCK TABLE public.a $$;\n"
                   "CALL public.touch_a();\n",
                   "SELECT 1;\nDROP PROCEDURE public.touch_a();\n")
    blocker = holding(empty_db, "SELECT * FROM public.a")
    try:
        with pytest.raises(DbtoolError) as e:
            migrate(empty_db, one_table.load(), settings=Settings(**FAST, lock_retries=5))
    finally:
        blocker.close()
    assert "55P03" in e.value.message and "not retried: the statement may have committed part of its work" in \
        e.value.message
    notes = [x.note for x in log(empty_db).entries if x.operation == "lock-timeout"]
    assert len(notes) == 1 and notes[0].endswith("gave up")


def test_retry_pauses_double_from_the_first_up_to_the_maximum_with_half_of_each_jittered():
    assert [lockretry.pause(n, "1s", "30s", rand=lambda: 0.0) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 15, 15]
    assert [lockretry.pause(n, "1s", "30s", rand=lambda: 1.0) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert lockretry.pause(1, "500ms", "2min", rand=lambda: 1.0) == 0.5 and lockretry.pause(9, "200", "1min") <= 60


def test_a_bad_lock_retries_value_is_a_usage_error_before_connecting(one_table):
    res = run("migrate", "-d", "postgresql://nobody@127.0.0.1:1/x", "--project", str(one_table.path),
              "--lock-retries", "-1")
    assert res.exit_code == 2 and "--lock-retries -1 is not a number of retries" in res.stderr
    (one_table.path / "pyproject.toml").write_text('[tool.dbtool]\nlock_retries = "many"\n')
    res = run("migrate", "-d", "postgresql://nobody@127.0.0.1:1/x", "--project", str(one_table.path))
    assert res.exit_code == 2 and "lock_retries in [tool.dbtool] 'many'" in res.stderr
