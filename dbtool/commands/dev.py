"""`dbtool dev`: a project-local PostgreSQL with the schema's extensions, for developers."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from psycopg import sql

from .. import cluster, db
from ..config import Project
from ..errors import DbtoolError

SUPERUSER = "postgres"
PASSFILE = "pgpass"
# The home folder (.dbtool/dev) is ours alone: the passfile and state.json. The server's OS user
# gets only SERVER_DIR (pg_ctl_runas hands it over at initdb): its data folder and log.
SERVER_DIR = "server"


@dataclass
class DevCluster:
    home: Path
    datadir: Path
    port: int
    database: str

    @property
    def passfile(self) -> Path:
        return self.home / PASSFILE

    @property
    def url(self) -> str:
        """No password in it: libpq reads it from the project's passfile, readable by its owner only."""
        base = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"
        return f"{base}?passfile={quote(str(self.passfile))}" if self.passfile.exists() else base

    def as_dict(self) -> dict:
        return {**asdict(self), "home": str(self.home), "datadir": str(self.datadir), "url": self.url,
                "running": cluster.is_running(self.datadir)}


def _home(project: Project, base: Path | None) -> Path:
    return (base or project.state_dir) / "dev"


def _datadir(home: Path) -> Path:
    """A cluster made before the server's folder was split from ours has its data in home/pgdata."""
    legacy = home / "pgdata"
    return legacy if legacy.exists() else home / SERVER_DIR / "pgdata"


def _make_home(home: Path) -> None:
    home.parent.mkdir(parents=True, exist_ok=True)
    home.mkdir(mode=0o755, exist_ok=True)  # the server's user must pass through it to its folder
    _check_home(home)


def _check_home(home: Path) -> None:
    """Whoever can write the passfile's folder can put another file (or a link) in its place for
    us to read, or to overwrite on the next initdb."""
    st = home.stat()
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise DbtoolError(f"{home} can be written by another user (owner uid {st.st_uid}, mode "
                          f"{oct(st.st_mode & 0o777)}), who could replace the dev cluster's passfile",
                          hint="an older dbtool gave it to the server's user: run `dbtool dev destroy --yes`, then "
                               "`dbtool dev up` (the dev database starts empty); or make it yours alone (chmod go-w)")


def _settings(database: str) -> str:
    return "\n".join([
        "# written by dbtool dev: the settings the schema needs",
        f"shared_preload_libraries = '{cluster.PRELOAD}'",
        f"cron.database_name = '{database}'",
        # Jobs run as the jobs table's owner, which accepts no client (LOGIN CONNECTION LIMIT 0):
        # pg_cron must start them as background workers, and never as a superuser (docs/cron.md).
        "cron.use_background_workers = on",
        "cron.enable_superuser_jobs = off",
        "max_worker_processes = 32",
        "listen_addresses = '127.0.0.1'",
        "unix_socket_directories = ''",
        "timescaledb.telemetry_level = off",
        "pg_stat_statements.track = all",
        "max_connections = 50",
        "",
    ])


def _configure(datadir: Path, database: str) -> None:
    """Written (as root, maybe) into the server user's folder: never through a link that user
    could have planted there."""
    cluster.write_private(datadir / "dbtool.conf", _settings(database), owner=datadir.stat().st_uid)
    fd = os.open(datadir / "postgresql.conf", os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
    with os.fdopen(fd, "a") as f:
        f.write("\ninclude 'dbtool.conf'\n")


def _initdb(home: Path, datadir: Path) -> None:
    """A cluster that wants a password over TCP (scram), the password kept in a passfile only this
    user can read: with trust, every local OS user would be the superuser, and through COPY ... PROGRAM
    the server's OS account. initdb runs as the server's user and reads the password from a file
    that is that user's (still mode 0600) for initdb's run only."""
    password = secrets.token_urlsafe(24)
    cluster.write_private(home / PASSFILE, f"127.0.0.1:*:*:{SUPERUSER}:{password}\n")
    pwfile = home / "initdb-password"
    try:
        cluster.write_private(pwfile, password + "\n", owner=cluster.server_uid())
        datadir.parent.mkdir(mode=0o700, exist_ok=True)  # pg_ctl_runas gives it to the server's user
        cluster.initdb(datadir, SUPERUSER, pwfile=pwfile)
    finally:
        pwfile.unlink(missing_ok=True)


def _load(home: Path) -> DevCluster | None:
    state = home / "state.json"
    if not state.is_file():
        return None
    d = json.loads(state.read_text())
    return DevCluster(home=home, datadir=Path(d["datadir"]), port=int(d["port"]), database=d["database"])


def _save(home: Path, dev: DevCluster) -> None:
    # It names the folder pg_ctl runs on as root: no one else may change it.
    cluster.write_private(home / "state.json", json.dumps({"datadir": str(dev.datadir), "port": dev.port,
                                                           "database": dev.database}, indent=2) + "\n")


def up(project: Project, port: int | None = None, base: Path | None = None) -> DevCluster:
    """Initialise (once) and start the local cluster, create the database, return where it is."""
    cluster.find_bindir()
    home = _home(project, base)
    _make_home(home)
    dev = _load(home) or DevCluster(home=home, datadir=_datadir(home), port=0, database=project.get("database"))
    datadir = dev.datadir
    if datadir.exists():
        cluster.check_owner(datadir)
    else:
        _initdb(home, datadir)
        _configure(datadir, dev.database)
    if cluster.is_running(datadir):
        if port and port != dev.port:
            raise DbtoolError(f"the dev cluster is already running on port {dev.port}",
                              hint="run `dbtool dev down` first to move it to another port")
    else:
        dev.port = port or (dev.port if dev.port and not cluster.port_in_use(dev.port) else cluster.free_port())
        cluster.start(datadir, dev.port, datadir.parent / "postgresql.log")  # written by the server's user
    _save(home, dev)
    _create_database(dev)
    return dev


def _create_database(dev: DevCluster, recreate: bool = False) -> None:
    with db.connection(dev.url, dbname="postgres") as conn:
        if recreate:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dev.database)))
        if not db.scalar(conn, "SELECT 1 FROM pg_database WHERE datname = %s", [dev.database]):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dev.database)))


def _require(project: Project, base: Path | None) -> DevCluster:
    dev = _load(_home(project, base))
    if dev is None:
        raise DbtoolError("no dev cluster in this project yet", hint="run `dbtool dev up`")
    return dev


def down(project: Project, base: Path | None = None) -> DevCluster:
    dev = _require(project, base)
    if dev.datadir.exists():
        cluster.check_owner(dev.datadir)
        if cluster.is_running(dev.datadir):
            cluster.stop(dev.datadir)
    return dev


def reset(project: Project, base: Path | None = None) -> DevCluster:
    """Drop and recreate the application database (the cluster keeps running)."""
    dev = _require(project, base)
    _check_home(dev.home)
    if not cluster.is_running(dev.datadir):
        raise DbtoolError("the dev cluster is not running", hint="run `dbtool dev up`")
    _create_database(dev, recreate=True)
    return dev


def destroy(project: Project, base: Path | None = None) -> None:
    """Stop the cluster and delete its data folder."""
    home = _home(project, base)
    if _load(home):
        down(project, base)
    shutil.rmtree(home, ignore_errors=True)


def url(project: Project, base: Path | None = None) -> str:
    dev = _require(project, base)
    _check_home(dev.home)  # the URL names its passfile
    if not cluster.is_running(dev.datadir):
        raise DbtoolError("the dev cluster is not running", hint="run `dbtool dev up`")
    return dev.url


def psql_argv(project: Project, base: Path | None = None) -> list[str]:
    psql = cluster.find_bindir() / "psql"
    return [str(psql if psql.exists() else "psql"), url(project, base)]
