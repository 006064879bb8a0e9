"""Read replicas (docs/replicas.md) on a real streaming standby: the dev cluster's, made by
`dbtool dev up --replica` (pg_basebackup, a slot, TLS) in a folder of this module, its primary
migrated with the real project. The schema and the data reach the standby by replication only;
dbtool's writing commands refuse it, its reading ones work there."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import psycopg
import pytest
from cli_support import run
from schema_support import APP, seed_tenant, tenant_token

from dbtool import config, devcluster
from dbtool.commands import check_rls, drift, status
from dbtool.commands import docs as docs_cmd
from dbtool.commands.doctor import doctor
from dbtool.commands.log import log as history
from dbtool.commands.migrate import migrate
from dbtool.snapshots import take

ROOT = Path(__file__).resolve().parent.parent
READER, READER_PASSWORD = "replica_test_reader", "not-a-secret-0"


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    """The dev cluster with a standby, migrated, two tenants in it; replay kept to 1 s behind a
    conflicting standby query, so a lock test takes a second, not the default 30."""
    proj = config.load(ROOT)
    base = tmp_path_factory.mktemp("replica") / "state"
    d = devcluster.up(proj, base=base, replica=True)
    try:
        migrate(d.url, proj, sync_cron=False)
        with psycopg.connect(d.url, autocommit=True) as c:
            tenants = seed_tenant(c, "replica-a"), seed_tenant(c, "replica-b")
            c.execute(f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")  # no superuser: no primary_conninfo
            c.execute(f"GRANT CONNECT ON DATABASE maplatform TO {READER}")
        with psycopg.connect(d.replica_url, autocommit=True) as c:
            c.execute("ALTER SYSTEM SET max_standby_streaming_delay = '1s'")
            c.execute("SELECT pg_reload_conf()")
        caught_up(d)
        yield d, proj, tenants
    finally:
        devcluster.destroy(proj, base=base)


def caught_up(d, seconds: float = 30) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with psycopg.connect(d.url, autocommit=True) as p:
        lsn = p.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + seconds
    with psycopg.connect(d.replica_url, autocommit=True) as s:
        while not s.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]).fetchone()[0]:
            assert time.monotonic() < deadline, "the standby did not catch up"
            time.sleep(0.05)


def reader_url(d) -> str:
    return f"postgresql://{READER}:{READER_PASSWORD}@127.0.0.1:{d.replica}/maplatform?sslmode=require"


def test_dev_up_replica_makes_a_streaming_standby_over_tls_with_its_own_slot_and_a_private_key(dev):
    d, proj, _ = dev
    assert devcluster.url(proj, base=d.home.parent, replica=True) == d.replica_url != d.url
    with psycopg.connect(d.replica_url, autocommit=True) as s:
        assert s.execute("SELECT pg_is_in_recovery(), current_setting('primary_slot_name')").fetchone() == (
            True, devcluster.SLOT)
        assert s.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    with psycopg.connect(d.url, autocommit=True) as p:
        assert p.execute("SELECT application_name, state FROM pg_stat_replication").fetchall() == [
            ("dbtool_dev_standby", "streaming")]
        assert p.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                         [devcluster.SLOT]).fetchone() == (True,)
        assert p.execute("SHOW max_slot_wal_keep_size").fetchone() == ("1GB",)
    for name in ("server.key", "server.crt", "standby.signal", "postgresql.auto.conf"):
        st = (d.standby_dir / name).stat()  # pg_basebackup ran as the server's user: its files, 0600
        assert oct(st.st_mode & 0o777) == "0o600" and st.st_uid == d.datadir.stat().st_uid, name
    assert "password" not in (d.standby_dir / "postgresql.auto.conf").read_text()


def test_the_schema_and_new_tables_arrive_on_the_standby_by_replication(dev):
    d, proj, _ = dev
    with psycopg.connect(d.url, autocommit=True) as p:
        p.execute("CREATE TABLE public.replica_arrives (x int)")
        p.execute("INSERT INTO public.replica_arrives VALUES (1), (2)")
        applied = p.execute("SELECT id, checksum FROM dbtool.migrations ORDER BY id").fetchall()
    caught_up(d)
    with psycopg.connect(d.replica_url, autocommit=True) as s:
        assert s.execute("SELECT id, checksum FROM dbtool.migrations ORDER BY id").fetchall() == applied
        assert s.execute("SELECT to_regclass('public.deals') IS NOT NULL").fetchone() == (True,)
        assert s.execute("SELECT sum(x) FROM public.replica_arrives").fetchone() == (3,)


def test_rls_on_the_standby_shows_the_app_role_its_own_tenant_only(dev):
    d, _, (a, b) = dev
    with psycopg.connect(d.url, autocommit=True) as p:
        token = tenant_token(p, a["tenant"])  # minted and registered on the primary (migration 0017)
    caught_up(d)
    with psycopg.connect(d.replica_url) as s:  # one transaction: the context lives as long as it does
        s.execute(f"SET LOCAL ROLE {APP}")
        s.execute("SELECT public.set_tenant_context(%s)", [token])
        assert s.execute("SELECT DISTINCT tenant_id FROM public.deals").fetchall() == [(a["tenant"],)]
        assert s.execute("SELECT count(*) FROM public.deals WHERE tenant_id = %s", [b["tenant"]]).fetchone() == (0,)
        s.rollback()
        s.execute(f"SET LOCAL ROLE {APP}")  # and with no tenant set, nothing
        assert s.execute("SELECT count(*) FROM public.deals").fetchone() == (0,)


@pytest.mark.parametrize("argv", [["migrate"], ["migrate", "--dry-run"], ["rollback", "--yes"],
                                  ["rollback", "--dry-run"], ["repair", "--accept", "0001"],
                                  ["baseline", "--to", "0001", "--dry-run"]], ids=" ".join)
def test_commands_that_write_refuse_the_standby_with_exit_2_naming_the_primary(dev, argv):
    d, _, _ = dev
    res = run(*argv, "--database-url", d.replica_url, "--project", str(ROOT))
    assert res.exit_code == 2, res.output
    assert f"read-only standby: dbtool changes the schema and its ledger on the primary (127.0.0.1:{d.port}) only" \
        in res.output
    assert "Traceback" not in res.output


def test_seed_refuses_the_standby_before_writing_a_row(dev):
    d, _, _ = dev
    res = run("seed", "--small", "--database-url", d.replica_url, "--project", str(ROOT))
    assert res.exit_code == 2, res.output
    assert f"read-only standby: seed writes every tenant's rows on the primary (127.0.0.1:{d.port}) only" in res.output


def test_a_role_that_may_not_read_primary_conninfo_is_told_the_primary_without_its_address(dev):
    d, _, _ = dev
    res = run("migrate", "--database-url", reader_url(d), "--project", str(ROOT))
    assert res.exit_code == 2, res.output
    assert "changes the schema and its ledger on the primary only" in res.output
    assert str(d.port) not in res.output.replace(str(d.replica), "") and READER_PASSWORD not in res.output


def test_status_log_drift_snapshot_check_rls_and_docs_work_read_only_on_the_standby(dev, tmp_path):
    d, proj, _ = dev
    caught_up(d)
    report = status.status(d.replica_url, proj, exit_code=True)
    assert history(d.replica_url, limit=3).as_dict() == history(d.url, limit=3).as_dict()  # dbtool log
    assert report.exit_code == 0 and all(e.state == "applied" for e in report.migrations)
    assert take(d.replica_url, proj).data == take(d.url, proj).data
    assert drift.drift(d.replica_url, proj).as_dict() == drift.drift(d.url, proj).as_dict()
    assert check_rls.check_rls(d.replica_url, proj) == check_rls.check_rls(d.url, proj)
    written = docs_cmd.run(proj, tmp_path / "docs", database_url=d.replica_url)
    assert written.exit_code == 0 and "README.md" in written.files


def test_doctor_lists_the_standby_on_the_primary_and_the_replay_settings_on_the_standby(dev):
    d, proj, _ = dev
    on_primary = {c.name: c for c in doctor(d.url, proj)}
    assert on_primary["standby dbtool_dev_standby"].status == "ok"
    assert "streaming" in on_primary["standby dbtool_dev_standby"].value
    assert on_primary[f"replication slot {devcluster.SLOT}"].status == "ok"
    on_standby = {c.name: c for c in doctor(d.replica_url, proj)}
    assert on_standby["standby"].status == "ok" and f"127.0.0.1:{d.port}" in on_standby["standby"].value
    assert on_standby["max_standby_streaming_delay"].status == "ok"
    assert on_standby["hot_standby_feedback"].status == "warn" and "hot_standby_feedback = on" in \
        on_standby["hot_standby_feedback"].fix
    primary_reader = reader_url(d).replace(f":{d.replica}/", f":{d.port}/")  # 0016: no pg_stat_get_activity
    hidden = {c.name: c for c in doctor(primary_reader)}["standbys"]
    assert hidden.status == "warn" and "permission denied for function pg_stat_get_activity" in hidden.value
    with psycopg.connect(d.replica_url, autocommit=True) as s:
        s.execute("ALTER SYSTEM SET max_standby_streaming_delay = -1")
        s.execute("SELECT pg_reload_conf()")
        try:
            time.sleep(0.2)
            forever = {c.name: c for c in doctor(d.replica_url, proj)}["max_standby_streaming_delay"]
            assert forever.status == "warn" and "waits forever" in forever.value
            assert "max_standby_streaming_delay = '30s'" in forever.fix
        finally:
            s.execute("ALTER SYSTEM SET max_standby_streaming_delay = '1s'")
            s.execute("SELECT pg_reload_conf()")


LOCK_MIGRATION = "ALTER TABLE public.probe ADD COLUMN added int;\n"  # ACCESS EXCLUSIVE, replayed on the standby


def test_a_migrations_exclusive_lock_cancels_a_conflicting_standby_query_after_max_standby_streaming_delay(
        dev, tmp_path):
    """Deterministic form of "replay waits at most max_standby_streaming_delay": a standby query holds
    the table (AccessShareLock) when the migration's lock is replayed; after the delay (1 s here) the
    query is cancelled with 40001 and replay goes on, instead of the query running its 30 s."""
    d, _, _ = dev
    (tmp_path / "migrations").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.dbtool]\ndatabase = "lockprobe"\n')
    (tmp_path / "migrations" / "0001_add_column.sql").write_text(LOCK_MIGRATION)
    (tmp_path / "migrations" / "0001_add_column.rollback.sql").write_text(
        "ALTER TABLE public.probe DROP COLUMN added;\n")
    primary = d.node_url(d.port, "lockprobe")
    standby = d.node_url(d.replica, "lockprobe")
    with psycopg.connect(d.url, autocommit=True) as p:
        p.execute("DROP DATABASE IF EXISTS lockprobe")
        p.execute("CREATE DATABASE lockprobe")
    with psycopg.connect(primary, autocommit=True) as p:
        p.execute("CREATE TABLE public.probe (x int)")
    caught_up(d)
    outcome: dict = {}

    def long_read():
        started = time.monotonic()
        try:
            with psycopg.connect(standby, autocommit=True) as s:
                s.execute("SELECT count(*), pg_sleep(30) FROM public.probe")
            outcome["error"] = None
        except psycopg.Error as exc:
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    reader = threading.Thread(target=long_read)
    reader.start()
    with psycopg.connect(standby, autocommit=True) as watch:
        deadline = time.monotonic() + 10
        while not watch.execute("SELECT EXISTS (SELECT FROM pg_locks WHERE relation = 'public.probe'::regclass "
                                "AND mode = 'AccessShareLock' AND granted)").fetchone()[0]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        migrate(primary, config.load(tmp_path), sync_cron=False)  # the primary does not wait for the standby
        reader.join(20)
        assert not reader.is_alive()
        assert isinstance(outcome["error"], psycopg.errors.SerializationFailure), outcome
        assert outcome["error"].sqlstate == "40001"
        assert "conflict with recovery" in str(outcome["error"])
        assert outcome["seconds"] < 10  # the delay (1 s) and the time to get there, not the query's 30 s
    caught_up(d)
    with psycopg.connect(standby, autocommit=True) as s:  # replay went on: the column is there
        assert s.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.probe'::regclass "
                         "AND attname = 'added'").fetchone() == (1,)


def test_dev_down_and_up_stop_and_restart_the_standby_on_its_port(dev):
    """Near the end of the module: the standby is back, as the other tests found it, when it ends."""
    d, proj, _ = dev
    base = d.home.parent
    devcluster.down(proj, base=base)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(d.replica_url, connect_timeout=2)
    again = devcluster.up(proj, base=base)  # no --replica: the standby is part of the cluster now
    assert (again.port, again.replica) == (d.port, d.replica)
    with psycopg.connect(again.replica_url, autocommit=True) as s:
        assert s.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)


def test_a_primary_moved_to_another_port_is_followed_by_its_standby(dev):
    """Last in the module: `dev up` finds the primary's port taken and starts it on another; the
    standby is pointed at it and streams again."""
    d, proj, _ = dev
    base = d.home.parent
    devcluster.down(proj, base=base)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", d.port))
        taken.listen()
        moved = devcluster.up(proj, base=base)
    assert moved.port != d.port
    with psycopg.connect(moved.url, autocommit=True) as p:
        p.execute("CREATE TABLE public.after_the_move (x int)")
    caught_up(moved)
    with psycopg.connect(moved.replica_url, autocommit=True) as s:
        assert s.execute("SELECT to_regclass('public.after_the_move') IS NOT NULL").fetchone() == (True,)


def test_the_replication_password_never_reaches_the_server_in_clear(dev):
    """The server is sent a SCRAM verifier, so pg_stat_statements (readable by maplatform_ops) keeps
    no password for the login that could copy the whole cluster."""
    d, proj, _ = dev
    passfile = next(d.home.rglob(devcluster.REPLICATION_PASSFILE))
    password = passfile.read_text().strip().rsplit(":", 1)[1]
    with psycopg.connect(devcluster.url(proj, base=d.home.parent), autocommit=True) as p:  # its port may have moved
        leaked = p.execute("SELECT count(*) FROM public.pg_stat_statements WHERE strpos(query, %s) > 0",
                           [password]).fetchone()[0]
        verifier = p.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'dbtool_replication'").fetchone()[0]
    assert leaked == 0 and verifier.startswith("SCRAM-SHA-256$")
