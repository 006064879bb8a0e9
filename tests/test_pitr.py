"""Point-in-time recovery with real pgBackRest on a real cluster (dbtool pitr, docs/backup.md).

One throwaway cluster per module, running as the server's user, with a local encrypted repository
in a private stanza home. The story is written once, in order, by the `story` fixture: rows, the
moment T, more rows, the table dropped, then a later stretch whose WAL segment is deleted from the
repository. Each test restores from it or probes it, so tests do not depend on their order."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from cli_support import run
from dbtool import cluster
from dbtool.commands import pitr as pitr_cmd
from dbtool.errors import DbtoolError, UsageError
from dbtool.pitr import repo, window

pytestmark = pytest.mark.skipif(shutil.which("pgbackrest") is None,
                                reason="pgbackrest is not installed (make setup installs Debian's package)")

STANZA = "pitrtest"
SETTINGS = f"""
listen_addresses = '127.0.0.1'
shared_preload_libraries = '{cluster.PRELOAD}'
cron.database_name = 'postgres'
timescaledb.telemetry_level = off
timescaledb.max_background_workers = 0
fsync = off
"""


def _sql(url: str, *statements: str):
    with psycopg.connect(url, autocommit=True) as c:
        for s in statements[:-1]:
            c.execute(s)
        cur = c.execute(statements[-1])
        return cur.fetchone()[0] if cur.description else None


def _archived(url: str, segment: str, timeout: float = 30) -> float:
    """Seconds until `segment` is archived (pg_stat_archiver)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        last = _sql(url, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        if last[8:] >= segment[8:]:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{segment} not archived in {timeout} s")


def _switch(url: str) -> str:
    """Close the current WAL segment and wait until the repository has it; its name."""
    seg = _sql(url, "SELECT pg_walfile_name(pg_switch_wal())")
    _archived(url, seg)
    return seg


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A running cluster with the preload libraries the schema needs, and a unix socket."""
    root = tmp_path_factory.mktemp("pitr")
    data = root / "srv" / "pgdata"
    cluster.initdb(data)
    run_dir = root / "srv"
    with open(data / "postgresql.conf", "a") as f:
        f.write(SETTINGS + f"unix_socket_directories = '{run_dir}'\n")
    port = cluster.free_port()
    cluster.start(data, port, run_dir / "postgresql.log")
    yield {"root": root, "data": data, "port": port, "url": f"postgresql://postgres@127.0.0.1:{port}/postgres"}
    cluster.stop(data)


@pytest.fixture(scope="module")
def stanza(source):
    res = pitr_cmd.setup(source["root"] / "home", STANZA, data_dir=source["data"], url=source["url"], project=None)
    assert any("restarted" in a for a in res.actions)  # archive_mode needs one
    st = repo.load(source["root"] / "home", STANZA)
    pitr_cmd.backup(st, "full")
    return st


@pytest.fixture(scope="module")
def story(source, stanza):
    url = source["url"]
    earliest = window.status(stanza).earliest
    while datetime.now(timezone.utc) <= earliest:  # T must be after the backup's (whole-second) end
        time.sleep(0.05)
    _sql(url, "CREATE DATABASE app")
    app = url.rsplit("/", 1)[0] + "/app"
    _sql(app, "CREATE EXTENSION timescaledb",
         "CREATE TABLE deals (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())",
         "CREATE TABLE events (at timestamptz NOT NULL, n int)",
         "SELECT create_hypertable('events', 'at')",
         "INSERT INTO deals (id) SELECT generate_series(1, 10)",
         "INSERT INTO events SELECT now(), g FROM generate_series(1, 5) g")
    _sql(url, "CREATE EXTENSION pg_cron", "SELECT cron.schedule('nightly', '0 3 * * *', 'SELECT 1')")
    t = _sql(app, "SELECT now()")  # after the commits above, on the server's clock
    _sql(app, "INSERT INTO deals (id) SELECT generate_series(11, 20)", "DROP TABLE deals")
    _switch(url)
    # A later stretch: its first segment goes missing from the repository.
    _sql(app, "CREATE TABLE later (n int)", "INSERT INTO later VALUES (1)")
    gap = _switch(url)
    _sql(app, "INSERT INTO later VALUES (2)")
    t2 = _sql(app, "SELECT now()")
    _switch(url)
    [doomed] = (stanza.home / "repo" / "archive").rglob(f"{gap}-*")
    doomed.unlink()
    return {"t": t, "t2": t2, "gap": gap, "app": app}


def _restored_url(res, dbname="app") -> str:
    return f"postgresql://postgres@127.0.0.1:{res.port}/{dbname}"


def _stop(path: Path) -> None:
    if cluster.is_running(path):
        cluster.stop(path)


def test_restore_to_t_has_exactly_the_rows_of_t_and_the_dropped_table(story, stanza, source, tmp_path):
    target = tmp_path / "restored"
    args = ["pitr", "restore", "--to", story["t"].isoformat(), "--target", str(target),
            "--home", str(source["root"] / "home"), "--stanza", STANZA, "--json"]
    try:
        r = run(*args)
        assert r.exit_code == 0, r.output
        res = json.loads(r.stdout)
        app = f"postgresql://postgres@127.0.0.1:{res['port']}/app"
        assert _sql(app, "SELECT array_agg(id ORDER BY id) FROM deals") == list(range(1, 11))
        assert datetime.fromisoformat(res["replayed_to"]) <= story["t"]
        # TimescaleDB and pg_cron came back with the cluster and work on the copy.
        assert _sql(app, "SELECT count(*) FROM events") == 5
        assert _sql(app, "INSERT INTO events VALUES (now(), 6)", "SELECT count(*) FROM events") == 6
        cron = f"postgresql://postgres@127.0.0.1:{res['port']}/postgres"
        assert _sql(cron, "SELECT jobname FROM cron.job") == "nightly"
        assert _sql(cron, "SELECT pg_is_in_recovery()") is False
    finally:
        _stop(target)


def test_a_missing_wal_segment_is_an_error_naming_it_not_an_older_database(story, stanza, tmp_path):
    target = tmp_path / "restored"
    try:
        with pytest.raises(DbtoolError) as e:
            pitr_cmd.restore(stanza, story["t2"].isoformat(), False, str(target))
        assert story["gap"] in e.value.message and "missing" in e.value.message
        assert not cluster.is_running(target)
        latest = tmp_path / "latest"
        with pytest.raises(DbtoolError) as e:
            pitr_cmd.restore(stanza, None, True, str(latest))
        assert story["gap"] in e.value.message and not cluster.is_running(latest)
    finally:
        _stop(target)
        _stop(tmp_path / "latest")


def test_status_shows_the_window_the_backups_and_an_rpo_within_five_minutes(story, stanza, source):
    r = run("pitr", "status", "--home", str(source["root"] / "home"), "--stanza", STANZA, "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert [b["type"] for b in s["backups"]] == ["full"]
    earliest, latest = (datetime.fromisoformat(s[k]) for k in ("earliest", "latest"))
    assert earliest <= story["t"] <= latest
    assert s["rpo"]["archive_timeout_s"] == 60 and s["rpo"]["configured_ok"]
    assert s["archiver"]["failed_count"] == 0 and s["problems"] == []
    text = run("pitr", "status", "--home", str(source["root"] / "home"), "--stanza", STANZA)
    assert "recoverable window" in text.stdout and "archive_timeout 60 s" in text.stdout


def test_archiving_lag_after_a_commit_is_well_inside_the_rpo(stanza, source):
    """The measured side of the RPO: a closed segment reaches the repository in well under a second
    here; archive_timeout (60 s) bounds how long a segment stays open."""
    lag = _archived(source["url"], _sql(source["url"], "SELECT pg_walfile_name(pg_switch_wal())"))
    assert lag < 10


def test_schedule_is_printed_for_cron_and_systemd(stanza, source):
    home = ["--home", str(source["root"] / "home"), "--stanza", STANZA]
    cron = run("pitr", "backup", "--schedule", "cron", *home)
    assert cron.exit_code == 0 and "0 2 * * *" in cron.stdout and "--type=incr backup" in cron.stdout
    timers = run("pitr", "backup", "--schedule", "systemd", *home)
    assert "OnCalendar=*-*-* 08,14,20:00:00 UTC" in timers.stdout


def test_secrets_are_private_and_never_printed(stanza, source):
    secrets_file = stanza.home / "conf.d" / "secrets.conf"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    passphrase = repo._existing_passphrase(secrets_file)
    assert passphrase and len(passphrase) >= 32
    r = run("pitr", "status", "--home", str(source["root"] / "home"), "--stanza", STANZA)
    assert passphrase not in r.output
    assert "cipher" in (stanza.home / "pgbackrest.conf").read_text() and passphrase not in (
        stanza.home / "pgbackrest.conf").read_text()


@pytest.mark.parametrize("args, code, message", [
    (["--stanza", "nosuch"], 2, "no PITR stanza 'nosuch'"),
    (["--to", "yesterday-ish"], 2, "cannot read 'yesterday-ish' as a time"),
    (["--to", "2999-01-01 00:00:00+00"], 2, "is in the future"),
    (["--to", "2000-01-01 00:00:00+00"], 2, "before the earliest restorable time"),
    (["--to-latest", "--to", "2000-01-01"], 2, "either --to TIMESTAMP or --to-latest"),
    (["--to-latest", "--target", "NONEMPTY"], 2, "is not empty"),
])
def test_restore_bad_inputs_are_one_line_errors(stanza, source, tmp_path, args, code, message):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    base = ["pitr", "restore", "--home", str(source["root"] / "home")]
    if "--stanza" not in args:
        base += ["--stanza", STANZA]
    if "--target" not in args:
        base += ["--target", str(tmp_path / "new")]
    r = run(*base, *[str(tmp_path / "full") if a == "NONEMPTY" else a for a in args])
    assert r.exit_code == code, r.output
    assert r.stderr.startswith(f"error: ") and message in r.stderr and "Traceback" not in r.output
    assert len(r.stderr.splitlines()) <= 2  # the error and its hint
    assert not (tmp_path / "new").exists()


def test_setup_refuses_a_folder_without_a_running_cluster_and_a_bad_stanza(tmp_path):
    with pytest.raises(UsageError, match="no running PostgreSQL"):
        pitr_cmd.setup(tmp_path / "home", "x", data_dir=tmp_path, url=None, project=None)
    with pytest.raises(UsageError, match="bad stanza name"):
        pitr_cmd.setup(tmp_path / "home", "a b", data_dir=tmp_path, url=None, project=None)


def test_window_checks_and_time_parsing():
    from dbtool.pitr import recovery

    assert recovery.parse_time("2025-06-01 14:29:00") == datetime(2025, 6, 1, 14, 29, tzinfo=timezone.utc)
    assert recovery.parse_time("2025-06-01T14:29:00Z").tzinfo is not None
    with pytest.raises(UsageError):
        recovery.check_window(datetime(2025, 1, 1, tzinfo=timezone.utc), None)
    now = datetime.now(timezone.utc)
    recovery.check_window(now, now - timedelta(hours=1))
    assert window.rpo({"archive_timeout": "1min", "now": now, "last_archived_time": now - timedelta(seconds=5)}) == {
        "target_s": 300, "archive_timeout_s": 60, "last_archive_age_s": 5.0, "configured_ok": True}


def test_status_right_after_a_backup_says_only_latest_instead_of_an_inverted_window():
    stop = datetime(2026, 12, 6, 20, 1, 2, tzinfo=timezone.utc)
    s = pitr_cmd.Window(stanza="db", repo="/r", earliest=stop + timedelta(seconds=1), latest=stop)
    line = s.lines()[-1]
    assert "only --to-latest until WAL after 2026-12-06 20:01:02Z is archived" in line
    assert "20:01:03Z .. 20:01:02Z" not in line
