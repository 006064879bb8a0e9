"""The project-local PostgreSQL of `dbtool dev` (a single server, or a Citus coordinator and workers,
and with --replica a streaming standby of it):
where it lives, starting and stopping it, its URL. Core: `dbtool lint` and `dbtool pitr` use it too."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from . import cluster, db, tls
from .config import Project
from .errors import DbtoolError

SUPERUSER = "postgres"
PASSFILE = "pgpass"
# The home folder (.dbtool/dev) is ours alone: the passfile and state.json. The server's OS user
# gets only SERVER_DIR (pg_ctl_runas hands it over at initdb): its data folder and log.
SERVER_DIR = "server"
# `dev up --citus`: a coordinator (the dev cluster's own data folder) and this many workers beside it.
CITUS_WORKERS = 2
# Every node's TLS settings, in a file of their own: a cluster made before dbtool turned TLS on gets
# it (and its certificate) at its next `dev up`, without dbtool.conf being rewritten.
TLS_CONF = "dbtool-tls.conf"
# Clients reach the cluster over TCP on loopback: TLS is required, not merely preferred (libpq's
# default, which falls back to plain text). A self-signed certificate cannot be verified against a CA.
SSLMODE = "sslmode=require"
# `dev up --replica`: the standby's folder beside the primary's, the login it streams as (REPLICATION
# only, not the superuser), its password in a passfile that is the server's OS user's (the standby's
# walreceiver reads it), the primary's slot that keeps WAL for it, and what that slot may keep.
STANDBY_DIR = "standby"
REPLICATION_ROLE = "dbtool_replication"
REPLICATION_PASSFILE = "replication.pgpass"
SLOT = "dbtool_dev_standby"
REPLICA_CONF = "dbtool-replica.conf"
REPLICA_SETTINGS = """# written by dbtool dev --replica (docs/replicas.md)
# a dead standby's slot keeps WAL no longer than this: the primary's disk does not fill
max_slot_wal_keep_size = '1GB'
"""


@dataclass
class DevCluster:
    home: Path
    datadir: Path
    port: int
    database: str
    workers: list[int] = field(default_factory=list)  # ports of the Citus workers; none: a single server
    replica: int | None = None  # port of the streaming standby (0: not started yet); None: no standby

    @property
    def passfile(self) -> Path:
        return self.home / PASSFILE

    @property
    def citus(self) -> bool:
        return bool(self.workers)

    @property
    def socket_dir(self) -> Path:
        """Where the Citus nodes reach each other: inside the server's folder, which only the server's
        OS user (and root) can enter, so trust there gives nobody anything they did not have."""
        return self.datadir.parent / "sockets"

    def nodes(self) -> list[tuple[Path, int]]:
        """(data folder, port) of every server: the coordinator first."""
        workers = [(self.datadir.parent / f"worker{i}", p) for i, p in enumerate(self.workers, 1)]
        return [(self.datadir, self.port), *workers]

    @property
    def standby_dir(self) -> Path:
        return self.datadir.parent / STANDBY_DIR

    def servers(self) -> list[tuple[Path, int]]:
        """nodes() and the standby (last: it stops first, starts after its primary)."""
        return self.nodes() + ([(self.standby_dir, self.replica)] if self.replica is not None else [])

    @property
    def replica_url(self) -> str:
        return self.node_url(self.replica, self.database)

    def node_url(self, port: int, dbname: str) -> str:
        return (f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{quote(dbname, safe='')}"
                f"?passfile={quote(str(self.passfile))}&{SSLMODE}")

    @property
    def url(self) -> str:
        """No password in it: libpq reads it from the project's passfile, readable by its owner only."""
        base = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{quote(self.database, safe='')}"
        passfile = f"passfile={quote(str(self.passfile))}&" if self.passfile.exists() else ""
        return f"{base}?{passfile}{SSLMODE}"

    @property
    def tls(self) -> bool:
        """Has every node its certificate and TLS settings (a cluster made by an older dbtool may not)?"""
        return all((datadir / TLS_CONF).exists() for datadir, _ in self.nodes())

    def as_dict(self) -> dict:
        standby = {} if self.replica is None else {
            "replica_url": self.replica_url, "replica_running": cluster.is_running(self.standby_dir)}
        return {**asdict(self), "home": str(self.home), "datadir": str(self.datadir), "url": self.url,
                "running": cluster.is_running(self.datadir), **standby}


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


def _settings(database: str, socket_dir: Path | None = None, preload: list[str] = ()) -> str:
    """With socket_dir, a Citus node: Citus first, its two-phase commits, the nodes' socket folder."""
    citus_lines = [] if socket_dir is None else [
        f"unix_socket_directories = '{socket_dir}'",
        "max_prepared_transactions = 100",
        "citus.node_conninfo = 'sslmode=disable'",  # the nodes talk through the private socket folder
    ]
    return "\n".join([
        "# written by dbtool dev: the settings the schema needs",
        # the project's [tool.dbtool] preload; Citus first when a node of it
        f"shared_preload_libraries = '{','.join((['citus'] if socket_dir else []) + list(preload))}'",
        "cron.database_name = '{}'".format(database.replace("'", "''")),
        # Jobs run as the jobs table's owner, which accepts no client (LOGIN CONNECTION LIMIT 0):
        # pg_cron must start them as background workers, and never as a superuser (docs/cron.md).
        "cron.use_background_workers = on",
        "cron.enable_superuser_jobs = off",
        "max_worker_processes = 32",
        "listen_addresses = '127.0.0.1'",
        *(citus_lines or ["unix_socket_directories = ''"]),
        "timescaledb.telemetry_level = off",
        "pg_stat_statements.track = all",
        "max_connections = 50",
        "",
    ])


def _configure(datadir: Path, database: str, socket_dir: Path | None = None, preload: list[str] = ()) -> None:
    """Written (as root, maybe) into the server user's folder: never through a link that user
    could have planted there."""
    owner = _check_datadir(datadir)
    cluster.write_private(datadir / "dbtool.conf", _settings(database, socket_dir, preload), owner=owner)
    _include(datadir, "dbtool.conf")
    if socket_dir is not None:  # the nodes' own connections, through the socket folder only
        cluster.write_private(datadir / "pg_hba.conf", HBA_CITUS, owner=owner)


def _check_datadir(datadir: Path) -> int:
    """The uid of the data folder, which must be a folder, not a link the server's user planted."""
    st = os.lstat(datadir)
    if not stat.S_ISDIR(st.st_mode):
        raise DbtoolError(f"{datadir} is not a folder (a link?): nothing was written into it",
                          hint="`dbtool dev destroy --yes`, then `dbtool dev up`")
    return st.st_uid


def _include(datadir: Path, name: str) -> None:
    fd = os.open(datadir / "postgresql.conf", os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
    with os.fdopen(fd, "a") as f:
        f.write(f"\ninclude '{name}'\n")


def _enable_tls(datadir: Path) -> None:
    """A self-signed certificate in the data folder, owned by the server's user, and TLS on: every
    client connects over TCP, and the URL requires TLS. The settings file comes last: its presence
    says the node is done (until then the include names a missing file, and the node does not start
    before the next `dev up` finishes this)."""
    owner = _check_datadir(datadir)
    tls.make_certificate(datadir, owner=owner)
    _include(datadir, TLS_CONF)
    cluster.write_private(datadir / TLS_CONF, "# written by dbtool dev: TLS with a self-signed certificate "
                          "(docs/tls.md)\n" + "\n".join(tls.conf_lines()) + "\n", owner=owner)


HBA_CITUS = """# written by dbtool dev --citus: the nodes connect to each other through the socket folder, which
# only the server's OS user can enter (mode 0700); every TCP client gives the password.
local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


def _initdb(home: Path, datadirs: list[Path]) -> None:
    """A cluster that wants a password over TCP (scram), the password kept in a passfile only this
    user can read: with trust, every local OS user would be the superuser, and through COPY ... PROGRAM
    the server's OS account. initdb runs as the server's user and reads the password from a file
    that is that user's (still mode 0600) for initdb's run only."""
    password = secrets.token_urlsafe(24)
    cluster.write_private(home / PASSFILE, f"127.0.0.1:*:*:{SUPERUSER}:{password}\n")
    pwfile = home / "initdb-password"
    try:
        cluster.write_private(pwfile, password + "\n", owner=cluster.server_uid())
        for datadir in datadirs:  # one password for every node: one passfile line reaches them all
            datadir.parent.mkdir(mode=0o700, exist_ok=True)  # pg_ctl_runas gives it to the server's user
            cluster.initdb(datadir, SUPERUSER, pwfile=pwfile)
    finally:
        pwfile.unlink(missing_ok=True)


def _load(home: Path) -> DevCluster | None:
    state = home / "state.json"
    if not state.is_file():
        return None
    d = json.loads(state.read_text())
    return DevCluster(home=home, datadir=Path(d["datadir"]), port=int(d["port"]), database=d["database"],
                      workers=[int(p) for p in d.get("workers", [])],
                      replica=None if d.get("replica") is None else int(d["replica"]))


def _save(home: Path, dev: DevCluster) -> None:
    # It names the folder pg_ctl runs on as root: no one else may change it.
    cluster.write_private(home / "state.json", json.dumps({"datadir": str(dev.datadir), "port": dev.port,
                                                           "database": dev.database, "workers": dev.workers,
                                                           "replica": dev.replica},
                                                          indent=2) + "\n")


def up(project: Project, port: int | None = None, base: Path | None = None, citus: bool = False,
       replica: bool = False) -> DevCluster:
    """Initialise (once) and start the local cluster, create the database, return where it is.
    With `citus`, a Citus coordinator and CITUS_WORKERS workers on loopback (docs/citus.md); with
    `replica`, a streaming standby of it (docs/replicas.md), kept by every later `up`."""
    cluster.find_bindir()
    home = _home(project, base)
    _make_home(home)
    dev = _load(home) or DevCluster(home=home, datadir=_datadir(home), port=0, database=project.get("database"))
    if citus and not dev.citus:
        if dev.datadir.exists():
            raise DbtoolError("the dev cluster of this project was made without Citus",
                              hint="`dbtool dev destroy --yes`, then `dbtool dev up --citus` (the dev database starts empty)")
        dev.workers = [0] * CITUS_WORKERS
    if replica and dev.citus:
        raise DbtoolError("dbtool dev makes a standby of a single server, not of a Citus cluster",
                          hint="`dbtool dev up --replica` in a project whose dev cluster is not Citus "
                               "(docs/replicas.md)")
    if dev.citus:
        require_citus()
    preload = project.names("preload")  # before initdb: a bad setting found later would leave a half-made cluster
    if any(c in lib for lib in preload for c in ",'\"\\ "):
        raise DbtoolError(f"[tool.dbtool] preload: {preload} holds a name with a comma, quote or space",
                          hint="list each library on its own, by its file name: preload = [\"pg_stat_statements\"]")
    if dev.citus:
        _check_socket_path(dev.socket_dir)  # before initdb: a path refused later would leave nodes behind
    if dev.datadir.exists():
        for datadir, _ in dev.nodes():
            cluster.check_owner(datadir)
    else:
        _initdb(home, [d for d, _ in dev.nodes()])
        _save(home, dev)  # from here on, down and destroy know every node, whatever fails next
        for datadir, _ in dev.nodes():
            _configure(datadir, dev.database, dev.socket_dir if dev.citus else None, preload)
    if cluster.is_running(dev.datadir) and port and port != dev.port:
        raise DbtoolError(f"the dev cluster is already running on port {dev.port}",
                          hint="run `dbtool dev down` first to move it to another port")
    _require_tls(dev)
    _start(dev, port)
    _save(home, dev)
    _create_database(dev)
    if replica and dev.replica is None:
        dev.replica = 0
    if dev.replica is not None:
        _standby(dev)
    return dev


def _require_tls(dev: DevCluster) -> None:
    """TLS on every node that lacks it: a new cluster, or one an older dbtool made, which is stopped
    here if running so that _start brings it back with TLS (its data and port kept)."""
    for datadir, _ in dev.nodes():
        if not (datadir / TLS_CONF).exists():
            _enable_tls(datadir)
            if cluster.is_running(datadir):
                cluster.stop(datadir)


def _start(dev: DevCluster, port: int | None) -> None:
    """Start every node that is not running, each on its last port if still free (the coordinator
    on `port` when given), else on a free one."""
    if dev.citus:
        _socket_dir(dev.socket_dir)
    for i, (datadir, last) in enumerate(dev.nodes()):
        if cluster.is_running(datadir):
            continue
        if i == 0 and port:  # asked for: taken or refused (cluster.start says the port is busy)
            last = port
        elif not last or cluster.port_in_use(last):
            last = cluster.free_port()
        cluster.start(datadir, last, datadir.parent / f"{'postgresql' if i == 0 else datadir.name}.log")
        if i == 0:
            dev.port = last
        else:
            dev.workers[i - 1] = last
        _save(dev.home, dev)  # a node that fails to start next leaves the ports of those running known


def _check_socket_path(path: Path) -> None:
    """The socket folder's path goes into postgresql.conf as a list item: a comma would split it into
    two folders (one of them served with trust), a quote would break the file."""
    if any(c in str(path) for c in ",'\"\\") or any(c.isspace() for c in str(path)):
        raise DbtoolError(f"the Citus nodes' socket folder {path} has a comma, a quote, a backslash or a space in "
                          "its path", hint="run `dbtool dev up --citus` from a project whose path has none")
    if len(os.fsencode(path)) > 90:  # the socket's path (.s.PGSQL.<port> inside) must fit in 107 bytes
        raise DbtoolError(f"the project's folder is too deep for the Citus nodes' socket folder {path}",
                          hint="run `dbtool dev up --citus` from a project with a shorter path")


def _socket_dir(path: Path) -> None:
    """Made, given to the server's OS user and closed to everyone else through a handle that is the
    folder itself: the server's user owns the folder above and could have put a link in its place,
    which chown and chmod by path would follow (as root, anywhere)."""
    _check_socket_path(path)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        raise DbtoolError(f"{path} is not a folder (a link, or a file)",
                          hint="remove it; `dbtool dev up` makes it again") from None
    try:
        uid = cluster.server_uid()
        if uid is not None:
            os.fchown(fd, uid, -1)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def require_citus() -> None:
    pg_config = cluster.find_bindir() / "pg_config"
    try:
        libdir = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        libdir = str(cluster.find_bindir().parent / "lib")
    if not (Path(libdir.strip()) / "citus.so").is_file():
        raise DbtoolError(f"Citus is not installed in the PostgreSQL of {cluster.find_bindir()}",
                          hint="install Citus for this PostgreSQL (Citus' own packages), or set PG_BINDIR to the "
                               "bin folder of one that has it (docs/citus.md)")


def _create_database(dev: DevCluster, recreate: bool = False) -> None:
    for _, port in dev.nodes():
        with db.connection(dev.node_url(port, "postgres")) as conn:
            if recreate:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dev.database)))
            if not db.scalar(conn, "SELECT 1 FROM pg_database WHERE datname = %s", [dev.database]):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dev.database)))
    if dev.citus:
        _register_nodes(dev)


def _register_nodes(dev: DevCluster) -> None:
    """Citus in the database on every node, and the workers known to the coordinator by the socket
    folder (so the nodes' connections, the owner role's among them, need no password)."""
    for _, port in dev.nodes():
        with db.connection(dev.node_url(port, dev.database)) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
    host = str(dev.socket_dir)
    with db.connection(dev.url) as conn:
        known = {p for (p,) in conn.execute("SELECT nodeport FROM pg_dist_node WHERE nodename = %s", [host])}
        stale = [n for (n,) in conn.execute("SELECT nodeid FROM pg_dist_node WHERE groupid <> 0 AND "
                                            "nodeport <> ALL(%s) ORDER BY nodeid", [dev.workers])]
        for port in [p for p in dev.workers if p not in known]:
            if stale:  # a worker restarted on another port keeps its node, and its shards
                conn.execute("SELECT citus_update_node(%s, %s, %s)", [stale.pop(0), host, port])
                _wait_metadata_synced(conn)
            else:
                conn.execute("SELECT citus_add_node(%s, %s)", [host, port])
        for gone in stale:
            conn.execute("SELECT citus_remove_node(nodename, nodeport) FROM pg_dist_node WHERE nodeid = %s", [gone])
        # last: it syncs the metadata to every worker, which must all be where pg_dist_node says
        if conn.execute("SELECT 1 FROM pg_dist_node WHERE groupid = 0 AND nodename = %s AND nodeport = %s",
                        [host, dev.port]).fetchone() is None:
            conn.execute("SELECT citus_set_coordinator_host(%s, %s)", [host, dev.port])


def _wait_metadata_synced(conn, seconds: float = 60) -> None:
    """After a node moved, Citus' maintenance daemon syncs the metadata to it (within a second or two
    here); until then Citus refuses any change of its metadata."""
    deadline = time.monotonic() + seconds
    while not db.scalar(conn, "SELECT coalesce(bool_and(metadatasynced), true) FROM pg_dist_node "
                              "WHERE hasmetadata AND isactive AND groupid <> 0"):
        if time.monotonic() > deadline:
            raise DbtoolError(f"Citus did not sync its metadata to the moved worker within {seconds:.0f} s",
                              hint="see the workers' logs in the dev cluster's server folder, then `dbtool dev up`")
        time.sleep(0.2)


def _standby(dev: DevCluster) -> None:
    """Made once from a base backup of the running primary, then started like the other nodes."""
    if not dev.standby_dir.exists():
        _make_standby(dev)
    cluster.check_owner(dev.standby_dir)
    if cluster.is_running(dev.standby_dir):
        return
    port = dev.replica if dev.replica and not cluster.port_in_use(dev.replica) else cluster.free_port()
    cluster.start(dev.standby_dir, port, dev.datadir.parent / "standby.log")
    dev.replica = port
    _save(dev.home, dev)
    _follow(dev)


def _follow(dev: DevCluster) -> None:
    """A primary restarted on another port (its last one taken): the standby's primary_conninfo is
    pointed at the new one (reloadable since PostgreSQL 13), else it would never stream again."""
    with db.connection(dev.replica_url) as conn:
        parts = conninfo_to_dict(db.scalar(conn, "SHOW primary_conninfo") or "")
        if parts.get("port") == str(dev.port):
            return
        conn.execute(sql.SQL("ALTER SYSTEM SET primary_conninfo = {}").format(
            sql.Literal(make_conninfo(**{**parts, "port": str(dev.port)}))))
        conn.execute("SELECT pg_reload_conf()")


def _make_standby(dev: DevCluster) -> None:
    """pg_basebackup of the primary over loopback (TLS, as the replication login) with a slot of its
    own and -R: standby.signal, primary_conninfo and primary_slot_name in the copy. The copy takes the
    primary's settings files and its certificate and key along (docs/tls.md)."""
    owner = _check_datadir(dev.datadir)
    passfile = dev.datadir.parent / REPLICATION_PASSFILE
    _replication_login(dev, passfile, owner)
    if not (dev.datadir / REPLICA_CONF).exists():
        cluster.write_private(dev.datadir / REPLICA_CONF, REPLICA_SETTINGS, owner=owner)
        _include(dev.datadir, REPLICA_CONF)
        with db.connection(dev.node_url(dev.port, "postgres")) as conn:
            conn.execute("SELECT pg_reload_conf()")  # max_slot_wal_keep_size needs no restart
    conninfo = (f"host=127.0.0.1 port={dev.port} user={REPLICATION_ROLE} passfile={passfile} "
                f"{SSLMODE} application_name=dbtool_dev_standby")
    cluster.base_backup(dev.standby_dir, conninfo, SLOT)


def _replication_login(dev: DevCluster, passfile: Path, owner: int) -> None:
    """A login that may stream WAL and nothing else, with a new password each time the standby is made
    (in the server user's own passfile: that user owns the data folder, and so the database, already)."""
    password = secrets.token_urlsafe(24)
    with db.connection(dev.node_url(dev.port, "postgres")) as conn:
        exists = db.scalar(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", [REPLICATION_ROLE])
        verb = "ALTER" if exists else "CREATE"
        # The server gets the SCRAM verifier, never the password: pg_stat_statements keeps the text of
        # utility statements, which maplatform_ops may read, and a replication login copies everything.
        verifier = conn.pgconn.encrypt_password(password.encode(), REPLICATION_ROLE.encode(), b"scram-sha-256")
        conn.execute(sql.SQL(verb + " ROLE {} LOGIN REPLICATION PASSWORD {}").format(
            sql.Identifier(REPLICATION_ROLE), sql.Literal(verifier.decode())))
        conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                     "WHERE slot_name = %s AND NOT active", [SLOT])  # a standby destroyed before: its slot is stale
    cluster.write_private(passfile, f"127.0.0.1:*:*:{REPLICATION_ROLE}:{password}\n", owner=owner)


def require(project: Project, base: Path | None = None) -> DevCluster:
    dev = _load(_home(project, base))
    if dev is None:
        raise DbtoolError("no dev cluster in this project yet", hint="run `dbtool dev up`")
    return dev


def down(project: Project, base: Path | None = None) -> DevCluster:
    dev = require(project, base)
    for datadir, _ in reversed(dev.servers()):  # standby, workers first: the coordinator may be talking to them
        if datadir.exists():
            cluster.check_owner(datadir)
            if cluster.is_running(datadir):
                cluster.stop(datadir)
    return dev


def reset(project: Project, base: Path | None = None) -> DevCluster:
    """Drop and recreate the application database (the cluster keeps running)."""
    dev = require(project, base)
    _check_home(dev.home)
    if not all(cluster.is_running(datadir) for datadir, _ in dev.nodes()):  # a Citus node down: Citus half-made
        raise DbtoolError("the dev cluster is not running" + (" on every node" if dev.citus else ""),
                          hint="run `dbtool dev up`")
    _create_database(dev, recreate=True)
    return dev


def destroy(project: Project, base: Path | None = None) -> None:
    """Stop the cluster and delete its data folder."""
    home = _home(project, base)
    if _load(home):
        down(project, base)
    shutil.rmtree(home, ignore_errors=True)


def url(project: Project, base: Path | None = None, replica: bool = False) -> str:
    """The primary's URL, or with `replica` the standby's."""
    dev = require(project, base)
    _check_home(dev.home)  # the URL names its passfile
    if not cluster.is_running(dev.datadir):
        raise DbtoolError("the dev cluster is not running", hint="run `dbtool dev up`")
    if not dev.tls:  # the URL requires TLS, which this cluster does not offer yet
        raise DbtoolError("the dev cluster was made before dbtool turned TLS on",
                          hint="run `dbtool dev up`: it adds a certificate and restarts the cluster, data kept")
    if not replica:
        return dev.url
    if dev.replica is None:
        raise DbtoolError("the dev cluster has no standby", hint="run `dbtool dev up --replica`")
    if not cluster.is_running(dev.standby_dir):
        raise DbtoolError("the dev cluster's standby is not running", hint="run `dbtool dev up`")
    return dev.replica_url


def psql_argv(project: Project, base: Path | None = None) -> list[str]:
    psql = cluster.find_bindir() / "psql"
    return [str(psql if psql.exists() else "psql"), url(project, base)]
