"""A throwaway PostgreSQL cluster for one benchmark run: initdb, the schema's preload libraries, settings
sized for the scale, a Unix socket (no TCP round trip in the figures), removed afterwards."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import psycopg
from psycopg import sql

from dbtool import cluster, scratch


def settings(full: bool) -> dict[str, str]:
    """Server settings, written into the report. Durability stays on (fsync): commits cost what they cost."""
    return {
        "shared_preload_libraries": f"'{cluster.PRELOAD}'",
        "cron.database_name": "postgres",
        "timescaledb.telemetry_level": "off",
        # No TimescaleDB job runs on its own (the community edition's compression, retention and
        # continuous-aggregate policies): bench/timeline.py runs them at known times, outside the clock.
        "timescaledb.max_background_workers": "0",
        "shared_buffers": "6GB" if full else "1GB",
        "effective_cache_size": "16GB" if full else "4GB",
        "work_mem": "64MB" if full else "32MB",
        "maintenance_work_mem": "1GB",
        "max_wal_size": "32GB" if full else "8GB",
        "checkpoint_timeout": "30min",
        "random_page_cost": "1.1",
        "jit": "off",
        "max_connections": "50",
        "max_locks_per_transaction": "512",  # bench/drift.py creates 1,000 tables in one transaction
        "listen_addresses": "''",
    }


@dataclass
class Server:
    socket_dir: Path
    port: int
    datadir: Path

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.socket_dir}&port={self.port}"

    def create_db(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_db(self, name: str) -> None:
        scratch.drop(self.url(), name)


@contextmanager
def throwaway(full: bool, keep: bool = False) -> Iterator[Server]:
    home = Path(tempfile.mkdtemp(prefix="dbtool-bench-"))
    datadir = home / "pgdata"
    try:
        cluster.initdb(datadir)
        shutil.chown(home, cluster.server_user())  # the server puts its socket here
        port = cluster.free_port()
        opts = " ".join(f"-c {k}={v}" for k, v in settings(full).items()) + f" -c unix_socket_directories='{home}'"
        cluster.start(datadir, port, home / "postgresql.log", opts)
        try:
            yield Server(home, port, datadir)
        finally:
            cluster.stop(datadir)
    finally:
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


# ----- nodes on loopback, from a PostgreSQL prefix of one's choice (the Citus benchmarks) ----------------

def loopback_options(citus: bool) -> str:
    """The benchmark's settings (settings(False)) for a node on 127.0.0.1 (TCP, as Citus' nodes reach each
    other), 256 MB of shared buffers each (three or four nodes on one machine); citus: Citus loaded first
    and what it needs (prepared transactions for its two-phase commits, more connections and workers)."""
    opts = " ".join(f"-c {k}={v}" for k, v in settings(False).items() if k not in (
        "shared_preload_libraries", "listen_addresses", "shared_buffers", "effective_cache_size", "max_connections"))
    preload = f"citus,{cluster.PRELOAD}" if citus else cluster.PRELOAD
    opts += (f" -c shared_preload_libraries='{preload}' -c shared_buffers=256MB -c listen_addresses=127.0.0.1"
             " -c unix_socket_directories='' -c max_connections=300")
    if citus:
        opts += (" -c max_prepared_transactions=100 -c citus.node_conninfo='sslmode=disable'"
                 " -c max_worker_processes=32")
    return opts


@contextmanager
def loopback_nodes(bindir: Path, names: list[str], citus: bool, keep: bool = False) -> Iterator[list[int]]:
    """Servers of the prefix `bindir`, one per name, each on a free port of 127.0.0.1 (trust: throwaway
    servers on private ports), their ports; every one started is stopped at the end, its folder removed
    unless keep."""
    home = Path(tempfile.mkdtemp(prefix="dbtool-bench-nodes-"))
    started: list[Path] = []
    try:
        ports = []
        for name in names:
            datadir, port = home / name, cluster.free_port()
            cluster.initdb(datadir, bindir=bindir)
            cluster.start(datadir, port, home / f"{name}.log", loopback_options(citus), bindir=bindir)
            started.append(datadir)
            ports.append(port)
        yield ports
    finally:
        for datadir in reversed(started):
            try:
                cluster.stop(datadir, bindir=bindir)
            except Exception as exc:  # the others are stopped all the same
                print(f"could not stop {datadir}: {exc}")
        if not keep:
            shutil.rmtree(home, ignore_errors=True)


def loopback_url(port: int, dbname: str, user: str = "postgres") -> str:
    return f"postgresql://{user}@127.0.0.1:{port}/{dbname}"


def citus_database(ports: list[int], dbname: str) -> str:
    """A database with Citus on every node (coordinator first), the workers registered, pg_cron in the
    coordinator's cron database: the coordinator's URL."""
    for i, port in enumerate(ports):
        with psycopg.connect(loopback_url(port, "postgres"), autocommit=True) as c:
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            if i == 0:
                c.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        with psycopg.connect(loopback_url(port, dbname), autocommit=True) as c:
            c.execute("CREATE EXTENSION citus")
    url = loopback_url(ports[0], dbname)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", [ports[0]])
        for port in ports[1:]:
            c.execute("SELECT citus_add_node('127.0.0.1', %s)", [port])
    return url
