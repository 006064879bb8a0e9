"""Throwaway databases and clusters: verify, drift --against-migrations, snapshot --from-migrations
and lint build the schema in one, then remove it (its cron jobs included) however the block ends.

Where: a throwaway local cluster by default (`server(None)`), so that no command creates databases
on a server it was not told to (production, typically, where DATABASE_URL points); on a server only
when given one explicitly (`--server-url URL`), which needs CREATEDB there."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psycopg
from psycopg import sql

from . import cluster, cron, db, tls
from .config import Project
from .errors import DbtoolError


def create(url: str, name: str) -> str:
    """CREATE DATABASE name (from template0: nothing of template1 leaks in) on the server of `url`."""
    with db.connection(url) as admin:
        try:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise DbtoolError(f"cannot create the scratch database {name}: {db.server_error(exc).message}",
                              hint="the role needs CREATEDB on that server; give another server with "
                                   "--server-url, or leave --server-url out to build in a throwaway local "
                                   "cluster") from None
    return db.with_dbname(url, name)


def drop(url: str, name: str) -> None:
    cron.forget_database(url, name)
    with db.connection(url) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def database(url: str, prefix: str = "dbtool_scratch_", name: str | None = None) -> Iterator[str]:
    """A new empty database on the server of `url`; yields its URL, drops it afterwards."""
    name = name or prefix + secrets.token_hex(4)
    scratch_url = create(url, name)
    try:
        yield scratch_url
    finally:
        drop(url, name)


@contextmanager
def migrated(url: str, project: Project, to: str | None = None, prefix: str = "dbtool_scratch_") -> Iterator[str]:
    """A scratch database migrated from migrations/ and sql/ (up to `to`). Its cron jobs are not
    scheduled: they would be real jobs on that server; compare the project's cron table instead."""
    from . import runs  # psycopg-heavy, and runs imports the engine: only when a build is asked for

    with database(url, prefix) as scratch_url:
        runs.migrate(scratch_url, project, to=to, sync_cron=False)
        yield scratch_url


TEMP_SERVER_OPTIONS = " ".join([
    "-c cron.database_name=postgres",  # as on managed services: the application database is not it
    "-c timescaledb.telemetry_level=off",
    "-c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",  # throwaway: durability buys nothing
])


LOCAL = "a temporary local cluster"


def where(server_url: str | None) -> str:
    """Where `server(server_url)` builds, fit to print (no password)."""
    if server_url is None:
        return LOCAL
    return f"a scratch database on the server of {db.describe(server_url).rsplit('/', 1)[0]}"


@contextmanager
def server(server_url: str | None, preload: list[str] = ()) -> Iterator[str]:
    """The server to create scratch databases on: `server_url`'s when given, else a throwaway local
    cluster of this machine's PostgreSQL (PG_BINDIR's, else Debian's), started here and removed
    afterwards, with the project's `preload` libraries. Yields a URL to connect to for CREATE DATABASE."""
    if server_url is not None:
        yield server_url
        return
    with temporary_cluster(preload) as url:
        yield url


def _or_server_url(exc: DbtoolError) -> DbtoolError:
    """The same error, its hint naming the other way: a scratch database on a server."""
    also = "or pass --server-url URL to build in a scratch database on that server (needs CREATEDB there)"
    return type(exc)(exc.message, hint=f"{exc.hint}; {also}" if exc.hint else also[3:],
                     exit_code=exc.exit_code, detail=exc.detail)


@contextmanager
def temporary_cluster(preload: list[str] = ()) -> Iterator[str]:
    """A throwaway local PostgreSQL loading `preload` ([tool.dbtool] preload), removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="dbtool-scratch-"))
    datadir = home / "pgdata"
    try:
        try:
            cluster.initdb(datadir)
            tls.make_certificate(datadir, owner=cluster.server_uid())  # TLS, as on the dev cluster
            port = cluster.free_port()
            options = f"-c shared_preload_libraries='{','.join(preload)}' {TEMP_SERVER_OPTIONS} {tls.server_options()}"
            cluster.start(datadir, port, home / "postgresql.log", options)
        except DbtoolError as exc:  # no local PostgreSQL, or it did not start: say what else works
            raise _or_server_url(exc) from None
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=require"
        finally:
            cluster.stop(datadir)
    finally:
        shutil.rmtree(home, ignore_errors=True)


CITUS_WORKERS = 2


@contextmanager
def citus_migrated(project: Project, to: str | None = None) -> Iterator[str]:
    """A throwaway Citus cluster of this machine's PostgreSQL (PG_BINDIR's, which must have Citus): a
    coordinator and CITUS_WORKERS workers on loopback ports (trust: private, and removed afterwards), a
    database with the citus extension on each, the workers registered, migrated from migrations/ and
    sql/ (up to `to`) through the coordinator, as `dbtool migrate` would on a real cluster. Yields the
    coordinator's URL. `make snapshot-citus` builds the committed Citus snapshot in it."""
    from . import devcluster, runs

    devcluster.require_citus()
    home = Path(tempfile.mkdtemp(prefix="dbtool-scratch-citus-"))
    nodes = [(home / name, cluster.free_port())
             for name in ["coordinator", *(f"worker{i}" for i in range(1, CITUS_WORKERS + 1))]]
    options = " ".join([f"-c shared_preload_libraries='{','.join(['citus', *project.names('preload')])}'",
                        TEMP_SERVER_OPTIONS, "-c max_prepared_transactions=100 -c max_worker_processes=32",
                        "-c citus.node_conninfo='sslmode=disable'", "-c timescaledb.max_background_workers=0"])
    started = []
    try:
        for datadir, port in nodes:
            cluster.initdb(datadir)
            started.append(datadir)
            cluster.start(datadir, port, home / f"{datadir.name}.log", options)
        name = "dbtool_scratch_citus"
        urls = [create(f"postgresql://postgres@127.0.0.1:{port}/postgres", name) for _, port in nodes]
        for url in urls:
            with db.connection(url) as conn:
                conn.execute("CREATE EXTENSION citus")
        with db.connection(urls[0]) as conn:
            conn.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", [nodes[0][1]])
            for _, port in nodes[1:]:
                conn.execute("SELECT citus_add_node('127.0.0.1', %s)", [port])
        runs.migrate(urls[0], project, to=to, sync_cron=False)
        yield urls[0]
    finally:
        for datadir in started:
            cluster.stop(datadir)
        shutil.rmtree(home, ignore_errors=True)
