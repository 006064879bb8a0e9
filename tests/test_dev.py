"""`dbtool dev`: a local cluster with the schema's extensions, as root and as an ordinary user."""

from __future__ import annotations

import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import sys
import traceback
from pathlib import Path

import psycopg
import pytest

from dbtool import cluster, config
from dbtool.commands import dev
from dbtool.commands.migrate import migrate
from dbtool.errors import DbtoolError

ROOT = Path(__file__).resolve().parent.parent


def test_dev_up_starts_a_cluster_with_the_schema_settings_and_tls_and_creates_the_database(dev_home):
    proj = config.load(ROOT)
    d = dev.up(proj, base=dev_home)
    with psycopg.connect(d.url, autocommit=True) as c:
        assert c.execute("SELECT current_database()").fetchone()[0] == "maplatform"
        assert c.execute("SHOW shared_preload_libraries").fetchone()[0] == cluster.PRELOAD
        assert c.execute("SHOW cron.database_name").fetchone()[0] == "maplatform"
        # the jobs' role accepts no client: pg_cron must start jobs as workers, never as a superuser
        assert c.execute("SELECT current_setting('cron.use_background_workers'), "
                         "current_setting('cron.enable_superuser_jobs')").fetchone() == ("on", "off")
    assert dev.up(proj, base=dev_home).url == d.url  # a second up is a no-op
    if os.geteuid() == 0:
        assert pwd.getpwuid(d.datadir.stat().st_uid).pw_name == "postgres"
    # TLS: the URL requires it, the connection is encrypted, the key is the server's user's alone
    assert d.url.endswith("&sslmode=require") and "?passfile=" in d.url
    with psycopg.connect(d.url, autocommit=True) as c:
        assert c.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    key = (d.datadir / "server.key").stat()  # PostgreSQL refuses a key others may read
    assert oct(key.st_mode & 0o777) == "0o600" and key.st_uid == d.datadir.stat().st_uid


def test_dev_up_turns_tls_on_in_a_running_cluster_made_before_it_and_keeps_its_data(dev_home):
    proj = config.load(ROOT)
    d = dev.up(proj, base=dev_home)
    with psycopg.connect(d.url, autocommit=True) as c:
        c.execute("CREATE TABLE kept (x int)")
    dev.down(proj, base=dev_home)
    for name in ("dbtool-tls.conf", "server.key", "server.crt"):  # what an older dbtool made
        (d.datadir / name).unlink()
    conf = d.datadir / "postgresql.conf"
    conf.write_text(conf.read_text().replace("include 'dbtool-tls.conf'", ""))
    cluster.start(d.datadir, d.port, d.datadir.parent / "postgresql.log")
    with pytest.raises(DbtoolError, match="made before dbtool turned TLS on"):
        dev.url(proj, base=dev_home)
    again = dev.up(proj, base=dev_home)
    assert again.port == d.port and dev.url(proj, base=dev_home) == d.url
    with psycopg.connect(d.url, autocommit=True) as c:
        assert c.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
        assert c.execute("SELECT to_regclass('kept')").fetchone()[0] == "kept"


def test_dev_cluster_migrates_to_head_with_pg_cron_in_the_same_database(dev_home):
    proj = config.load(ROOT)
    d = dev.up(proj, base=dev_home)
    res = migrate(d.url, proj)
    assert res.applied and res.cron["run_as"] == "maplatform_owner" and res.cron["scheduled"]
    with psycopg.connect(d.url, autocommit=True) as c:
        assert c.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'").fetchone()
        assert {r[0] for r in c.execute("SELECT DISTINCT username FROM cron.job")} == {"maplatform_owner"}


def test_dev_down_stops_and_up_restarts_on_the_same_port_with_data_kept(dev_home):
    proj = config.load(ROOT)
    d = dev.up(proj, base=dev_home)
    with psycopg.connect(d.url, autocommit=True) as c:
        c.execute("CREATE TABLE kept (x int)")
    dev.down(proj, base=dev_home)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(d.url, connect_timeout=2)
    with pytest.raises(DbtoolError, match="not running"):
        dev.url(proj, base=dev_home)
    d2 = dev.up(proj, base=dev_home)
    assert d2.port == d.port
    with psycopg.connect(d2.url, autocommit=True) as c:
        assert c.execute("SELECT to_regclass('kept')").fetchone()[0] == "kept"


def test_dev_reset_drops_and_recreates_the_database(dev_home):
    proj = config.load(ROOT)
    d = dev.up(proj, base=dev_home)
    with psycopg.connect(d.url, autocommit=True) as c:
        c.execute("CREATE TABLE gone (x int)")
    dev.reset(proj, base=dev_home)
    with psycopg.connect(d.url, autocommit=True) as c:
        assert c.execute("SELECT to_regclass('gone')").fetchone()[0] is None


def test_port_in_use_is_a_clear_error(dev_home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(DbtoolError, match=f"port {busy} is already in use"):
            dev.up(config.load(ROOT), port=busy, base=dev_home)


def test_no_postgresql_binaries_is_a_clear_error(dev_home, monkeypatch, tmp_path):
    monkeypatch.setenv("PG_BINDIR", str(tmp_path / "nothing-here"))
    with pytest.raises(DbtoolError, match="no PostgreSQL server binaries") as e:
        dev.up(config.load(ROOT), base=dev_home)
    assert "PG_BINDIR" in e.value.message and e.value.hint == "point PG_BINDIR at the folder holding pg_ctl, or unset it"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the folder to another user")
def test_data_folder_owned_by_someone_else_is_a_clear_error(dev_home):
    datadir = dev_home / "dev" / "pgdata"
    datadir.mkdir(parents=True)
    os.chown(datadir, pwd.getpwnam("nobody").pw_uid, -1)
    with pytest.raises(DbtoolError, match="is owned by 'nobody', but the server would run as 'postgres'"):
        dev.up(config.load(ROOT), base=dev_home)


def _forked(fn, prepare=lambda: None) -> tuple[int, str]:
    """Run prepare() then fn() in a forked child; returns (exit status, output). No exec, so the
    interpreter under /root stays usable after the child drops root."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            prepare()
            os.write(w, str(fn()).encode())
        except BaseException:
            os.write(w, traceback.format_exc().encode())
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        output = f.read()
    return os.waitpid(pid, 0)[1], output


def _as_user(user: str, fn) -> tuple[int, str]:
    """Run fn() in a forked child that has dropped root for `user`; returns (exit status, output)."""
    pw = pwd.getpwnam(user)

    def drop_root():
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
        os.environ.update(HOME=pw.pw_dir, USER=user)
    return _forked(fn, drop_root)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become an ordinary user")
def test_dev_up_and_down_work_as_an_ordinary_user(tmp_path, monkeypatch):
    home = tmp_path / "user-owned"
    home.mkdir()
    os.chown(home, pwd.getpwnam("postgres").pw_uid, -1)
    for p in [tmp_path, *tmp_path.parents]:  # let the user reach its folder
        if p != Path("/"):
            os.chmod(p, os.stat(p).st_mode | 0o001)
    # This checkout belongs to root and may sit in a folder the user cannot enter (a CI clone in a
    # mktemp folder); an ordinary user runs dbtool from a checkout of their own, so give the user
    # a copy of the pg_ctl wrapper it can execute.
    wrapper = tmp_path / "pg_ctl_runas"
    shutil.copy2(cluster.WRAPPER, wrapper)
    monkeypatch.setattr(cluster, "WRAPPER", wrapper)
    proj = config.load(ROOT)
    # Modules the child needs must be loaded before it drops root (they live under /root here).
    import psycopg.pq  # noqa: F401

    status, out = _as_user("postgres", lambda: dev.up(proj, base=home).url)
    assert status == 0, out
    with psycopg.connect(out, autocommit=True) as c:
        assert c.execute("SELECT current_user, current_database()").fetchone() == ("postgres", "maplatform")
    status, out = _as_user("postgres", lambda: (dev.down(proj, base=home), "down")[1])
    assert status == 0, out
    assert not cluster.is_running(home / "dev" / "pgdata")


def test_cli_dev_up_prints_a_usable_url(tmp_path):
    env = {**os.environ, "DBTOOL_PROJECT": str(tmp_path)}
    (tmp_path / "pyproject.toml").write_text('[tool.dbtool]\ndatabase = "clidev"\n')
    exe = str(Path(sys.executable).parent / "dbtool")
    try:
        p = subprocess.run([exe, "dev", "up"], capture_output=True, text=True, env=env)
        assert p.returncode == 0, p.stderr
        url = p.stdout.strip()
        assert url.startswith("postgresql://postgres@127.0.0.1:") and "/clidev?passfile=" in url
        assert url.endswith("&sslmode=require")
        assert subprocess.run([exe, "dev", "url"], capture_output=True, text=True, env=env).stdout.strip() == url
    finally:
        subprocess.run([exe, "dev", "destroy", "--yes"], capture_output=True, env=env)


def test_dev_cluster_wants_a_password_that_only_the_passfile_holds(dev_home):
    """Trust on 127.0.0.1 would make every local OS user the superuser: the cluster wants scram,
    the URL carries no password, and the passfile it names is readable by its owner only."""
    d = dev.up(config.load(ROOT), base=dev_home)
    assert "passfile=" in d.url and ":" not in d.url.split("//", 1)[1].split("@", 1)[0]
    assert oct(d.passfile.stat().st_mode & 0o777) == "0o600"
    with psycopg.connect(d.url, autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(d.url.split("?", 1)[0], passfile="/dev/null", connect_timeout=5)


def test_dev_passfile_is_owner_only_in_a_folder_the_server_user_cannot_write(dev_home):
    """The server's OS user owns the data folder; if it could write the folder of root's passfile it
    could swap the file (or a link) in for root to read or overwrite."""
    d = dev.up(config.load(ROOT), base=dev_home)
    folder = d.passfile.parent
    assert oct(d.passfile.stat().st_mode & 0o777) == "0o600" and d.passfile.stat().st_uid == os.geteuid()
    assert folder.stat().st_uid == os.geteuid() and not folder.stat().st_mode & 0o022
    assert d.datadir.parent != folder and d.datadir.stat().st_uid == pwd.getpwnam(cluster.server_user()).pw_uid
    assert not [p.name for p in folder.rglob("*password*")]  # initdb's password file is gone
    if os.geteuid() == 0:
        def replace_passfile():
            (d.datadir.parent / "forged").write_text("127.0.0.1:*:*:postgres:known\n")
            os.replace(d.datadir.parent / "forged", d.passfile)
        status, out = _as_user(cluster.server_user(), replace_passfile)
        assert status != 0 and "PermissionError" in out, out
        assert "known" not in d.passfile.read_text()


def test_dev_up_never_leaves_a_secret_file_readable_by_others_even_when_writing_it_fails(dev_home):
    """Under umask 0, with the write cut short (a file size limit: a full disk would do the same),
    what is left on disk is what a reader could have caught while the file was being written."""
    def cut_short():
        os.umask(0)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (16, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    status, out = _forked(lambda: dev.up(config.load(ROOT), base=dev_home), cut_short)
    assert status != 0 and "File too large" in out, out  # it did fail while writing a secret
    home = dev_home / "dev"
    assert not home.stat().st_mode & 0o022
    readable = [str(p) for p in home.rglob("*") if p.is_file() and p.stat().st_mode & 0o077]
    assert readable == []


def test_dev_up_replaces_a_planted_passfile_link_instead_of_writing_through_it(dev_home, tmp_path):
    home = dev_home / "dev"
    home.mkdir(parents=True, mode=0o755)
    victim = tmp_path / "victim"
    victim.write_text("root's own file\n")
    (home / "pgpass").symlink_to(victim)
    d = dev.up(config.load(ROOT), base=dev_home)
    assert victim.read_text() == "root's own file\n"
    assert not d.passfile.is_symlink() and oct(d.passfile.stat().st_mode & 0o777) == "0o600"
    with psycopg.connect(d.url, autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
