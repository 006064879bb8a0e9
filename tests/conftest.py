"""One throwaway PostgreSQL cluster per test session (pytest-postgresql), with the real extensions.

The cluster runs as an unprivileged user when the tests run as root (dbtool's pg_ctl wrapper).
Its template database is migrated to head once; each test that wants a database gets a fresh
clone (`migrated_db`) or an empty one (`empty_db`), dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from pytest_postgresql import factories

from dbtool import cluster, config, cron, tls
from dbtool.commands import migrate as migrate_cmd

ROOT = Path(__file__).resolve().parent.parent
CRON_DB = "postgres"
SERVER_OPTIONS = " ".join([
    f"-c shared_preload_libraries='{cluster.PRELOAD}'",
    f"-c cron.database_name={CRON_DB}",
    "-c timescaledb.telemetry_level=off",
    # One TimescaleDB scheduler per test database exhausts the worker slots, and a scheduler
    # connected to the template makes CREATE DATABASE ... TEMPLATE wait; jobs are run by hand.
    "-c timescaledb.max_background_workers=0",
    "-c pg_stat_statements.track=all",
    # pg_cron runs jobs in background workers as the jobs table's owner (LOGIN CONNECTION LIMIT 0:
    # no client may connect as it, a worker may), and never as a superuser (docs/cron.md).
    "-c cron.use_background_workers=on -c cron.enable_superuser_jobs=off -c max_worker_processes=32",
    "-c max_connections=200",
    # A throwaway cluster: durability buys nothing and costs seconds.
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
])
# The session cluster runs with TLS, as the dev cluster does: a self-signed certificate made once per
# session (per xdist worker) by `tls_certificate`, in a folder named here because the server's options
# are fixed when the fixture is made. Clients connect with libpq's default sslmode (prefer): encrypted.
TLS_DIR = Path(tempfile.gettempdir()) / f"dbtool-test-tls-{os.getpid()}-{secrets.token_hex(4)}"
SERVER_OPTIONS += " " + tls.server_options(str(TLS_DIR / tls.CERT), str(TLS_DIR / tls.KEY))


def migrate_template(host, port, user, dbname, password=None, **_):
    """pytest-postgresql loader: bring the template database to head once per session."""
    url = f"postgresql://{user}@{host}:{port}/{dbname}"
    migrate_cmd.migrate(url, config.load(ROOT), sync_cron=False)


tls_postgresql_proc = factories.postgresql_proc(
    executable=str(cluster.WRAPPER), port=None, dbname="dbtool_test",
    postgres_options=SERVER_OPTIONS, load=[migrate_template])


@pytest.fixture(scope="session")
def tls_certificate() -> Path:
    """The session cluster's certificate (its key beside it, the server's user's alone), removed after
    the cluster stops."""
    TLS_DIR.mkdir(mode=0o700)
    try:
        owner = cluster.server_uid()
        if owner is not None:  # the server, another OS user, reads its key in here
            os.chown(TLS_DIR, owner, -1)
        cert, _ = tls.make_certificate(TLS_DIR, owner=owner)
        yield cert
    finally:
        shutil.rmtree(TLS_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def postgresql_proc(tls_certificate, tls_postgresql_proc):
    """The session cluster, started once its certificate exists."""
    return tls_postgresql_proc


@dataclass
class Server:
    host: str
    port: int
    user: str
    template: str

    def url(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        auth = user or self.user
        if password:
            auth += f":{password}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url(), autocommit=True)

    def create_db(self, name: str, template: str | None = None) -> str:
        with self.admin() as c:
            for attempt in range(20):
                if template:  # CREATE DATABASE ... TEMPLATE needs the template to have no sessions;
                    # TimescaleDB's launcher may look into it now and then, so terminate and retry.
                    c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                              [template])
                try:
                    c.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
                    if template:
                        self._copy_database_grants(c, template, name)
                        self._copy_database_settings(c, template, name)
                    break
                except psycopg.errors.ObjectInUse:
                    if attempt == 19:
                        raise
                    time.sleep(0.1)
        return self.url(name)

    @staticmethod
    def _copy_database_grants(c, template: str, name: str) -> None:
        """CREATE DATABASE ... TEMPLATE copies the contents, not the database's own ACL, which the
        migrations set on the template (CONNECT, CREATE, TEMPORARY for maplatform_owner; TEMPORARY
        taken from PUBLIC): a clone is to look like a database migrated in place."""
        acl = c.execute("""SELECT coalesce(nullif(a.grantee, 0)::regrole::text, 'PUBLIC'), a.privilege_type
                           FROM pg_database d, aclexplode(d.datacl) a
                           WHERE d.datname = %s AND a.grantee <> d.datdba""", [template]).fetchall()
        if not acl:
            return
        c.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
        for grantee, privilege in acl:
            c.execute(f'GRANT {privilege} ON DATABASE "{name}" TO {grantee}')

    @staticmethod
    def _copy_database_settings(c, template: str, name: str) -> None:
        """Nor the database's settings (0022's pgaudit.log): a clone gets them as migrating it would."""
        rows = c.execute("""SELECT unnest(s.setconfig) FROM pg_db_role_setting AS s
                            JOIN pg_database AS d ON d.oid = s.setdatabase
                            WHERE d.datname = %s AND s.setrole = 0""", [template]).fetchall()
        for (item,) in rows:
            key, value = item.split("=", 1)
            c.execute(psycopg.sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                psycopg.sql.Identifier(name), psycopg.sql.Identifier(*key.split(".")), psycopg.sql.Literal(value)))

    def drop_db(self, name: str) -> None:
        cron.forget_database(self.url(), name)
        with self.admin() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def server(postgresql_proc) -> Server:
    return Server(host=postgresql_proc.host, port=postgresql_proc.port, user=postgresql_proc.user,
                  template=postgresql_proc.template_dbname)


_names = itertools.count(1)


@pytest.fixture
def db_factory(server):
    """Make databases on the session cluster; every one is dropped when the test ends."""
    made = []

    def make(template: str | None = None, name: str | None = None) -> str:
        name = name or f"t{next(_names)}_{os.getpid()}"
        made.append(name)
        return server.create_db(name, template)

    yield make
    for name in made:
        server.drop_db(name)


@pytest.fixture
def empty_db(db_factory) -> str:
    """URL of a new, empty database."""
    return db_factory()


@pytest.fixture
def migrated_db(db_factory, server) -> str:
    """URL of a new database at head: a clone of the session's migrated template."""
    return db_factory(template=server.template)


@pytest.fixture(scope="session")
def project() -> config.Project:
    return config.load(ROOT)


@pytest.fixture
def conn_to():
    """Open autocommit connections by URL; all closed at the end of the test."""
    conns = []

    def open_(url: str) -> psycopg.Connection:
        c = psycopg.connect(url, autocommit=True)
        conns.append(c)
        return c

    yield open_
    for c in conns:
        c.close()


@pytest.fixture
def dev_home(tmp_path):
    """A folder for one dev cluster (`base=` of dbtool.devcluster), stopped and removed after the
    test whatever happens."""
    from dbtool import devcluster
    from dbtool.errors import DbtoolError

    base = tmp_path / "state"
    yield base
    try:
        devcluster.destroy(config.load(ROOT), base=base)
    except DbtoolError:
        pass


@pytest.fixture
def tmp_project(tmp_path):
    """A scratch project with its own migrations/ and sql/; `write(name, sql)` adds files."""
    root = tmp_path / "proj"
    (root / "migrations").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.dbtool]\ndatabase = "scratch"\n')

    class P:
        path = root

        @staticmethod
        def write(rel: str, text: str) -> Path:
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text).lstrip())
            return p

        @staticmethod
        def pair(mid: str, forward: str, rollback: str) -> None:
            P.write(f"migrations/{mid}.sql", forward)
            P.write(f"migrations/{mid}.rollback.sql", rollback)

        @staticmethod
        def load() -> config.Project:
            return config.load(root)

        @staticmethod
        def copy_real_migrations() -> None:
            shutil.rmtree(root / "migrations")
            shutil.copytree(ROOT / "migrations", root / "migrations")
            if (ROOT / "sql").is_dir():
                shutil.copytree(ROOT / "sql", root / "sql", dirs_exist_ok=True)

    return P


@pytest.fixture(scope="session")
def password_user(postgresql_proc, server):
    """A login role that must give a password (scram), for authentication-failure tests.
    The session cluster trusts everyone else; this rule goes first in pg_hba.conf."""
    with server.admin() as c:
        c.execute("DO $$BEGIN CREATE ROLE dbtool_pw LOGIN PASSWORD 'right-secret'; "
                  "EXCEPTION WHEN duplicate_object THEN NULL; END$$")
    hba = Path(postgresql_proc.datadir) / "pg_hba.conf"
    rules = hba.read_text()
    if "dbtool_pw" not in rules:
        hba.write_text("host all dbtool_pw 127.0.0.1/32 scram-sha-256\n" + rules)
        with server.admin() as c:
            c.execute("SELECT pg_reload_conf()")
    return "dbtool_pw"


bare_postgresql_proc = factories.postgresql_proc(
    executable=str(cluster.WRAPPER), port=None, dbname="bare",
    postgres_options="-c fsync=off -c synchronous_commit=off")


@pytest.fixture(scope="session")
def bare_server(bare_postgresql_proc) -> Server:
    """A second cluster with no preload libraries at all: what a DBA's untouched server looks like."""
    return Server(host=bare_postgresql_proc.host, port=bare_postgresql_proc.port,
                  user=bare_postgresql_proc.user, template=bare_postgresql_proc.template_dbname)


# The backup tests' fixtures, registered here once: a fixture imported into several test modules
# is a separate fixture in each, so the session-scoped ones would be built once per module.
from backup_support import gpg_home, gpg_keyring, s3, s3_server, seeded_db, seeded_template  # noqa: E402,F401
