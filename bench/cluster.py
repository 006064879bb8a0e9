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
