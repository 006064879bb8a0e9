"""Shared by the backup tests: a seeded database, a throwaway GnuPG key, an S3 server on loopback,
and independent ways to say what a database holds (so the tests do not check dbtool's manifest
with dbtool's own fingerprint code)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import psycopg
import pytest

from dbtool import catalog, cluster, config, cron
from dbtool.commands import seed as seed_loader

ROOT = Path(__file__).resolve().parent.parent
seed_cmd = seed_loader.generator(config.load(ROOT))  # seed/generate.py, loaded as `dbtool seed` loads it

# The data: the real schema at head with the real data set (`dbtool seed`, small and repeatable),
# so every application table round-trips with rows: activity_timeline's chunks in timeline_chunks,
# forced RLS with policies, composite same-tenant foreign keys, uuid[] and text[] arrays, jsonb,
# inet, the generated tsvector, 1,536-dimension vectors, the cron jobs the migrations declare.
SCALE = seed_cmd.Scale(tenants=2, deals_per_tenant=20, seed="backup-tests", as_of=date(2025, 6, 1))

# What the real schema does not have yet, and a dump must carry as well: an enum type, an identity
# column (its sequence's position must come back), bytea, interval and double precision values,
# text with quotes, tabs, newlines, backslashes and non-ASCII characters (COPY's escaping), and a
# paused cron job (the migrations declare only active ones).
SEED_FIXTURE = r"""
CREATE SCHEMA fixture;
CREATE TYPE fixture.stage AS ENUM ('sourcing', 'diligence', 'closed');
CREATE TABLE fixture.values_not_in_the_schema (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    stage fixture.stage NOT NULL,
    ratio double precision,
    logo bytea,
    holding interval);
INSERT INTO fixture.values_not_in_the_schema (name, stage, ratio, logo, holding)
SELECT CASE g % 4 WHEN 0 THEN E'Soci\u00e9t\u00e9 G\u00e9n\u00e9rale \u2116' || g
                  WHEN 1 THEN E'O''Brien & Sons\t"quoted"\n line ' || g
                  WHEN 2 THEN E'back\\slash ' || g ELSE 'Company ' || g END,
       (ARRAY['sourcing', 'diligence', 'closed'])[g % 3 + 1]::fixture.stage,
       CASE WHEN g % 7 = 0 THEN NULL ELSE g / 3.0::float8 END,
       decode(md5(g::text), 'hex'), make_interval(months => g, days => g % 9)
FROM generate_series(1, 40) g;
INSERT INTO ops.cron_jobs (jobname, schedule, command, active) VALUES
    ('fixture_paused', '*/5 * * * *', 'SELECT ops.cleanup_sessions()', false);
"""

# Independent of dbtool's fingerprints: md5 of every row's text, sorted, per top-level table.
CONTENT_TABLES = r"""
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^(pg_|_timescaledb)' AND n.nspname <> 'information_schema'
  AND NOT c.relispartition AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1"""


def seed(url: str, *, schedule: bool = True) -> dict:
    """The real data set plus the fixture schema; with `schedule`, the cron jobs are scheduled for
    the database as after `dbtool migrate`. Returns the rows of each application table."""
    result = seed_cmd.seed(url, SCALE)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(SEED_FIXTURE)
        if schedule:
            cron.sync(url, c)
    return {qualified(t.table): t.rows for t in result.tables if t.table in seed_cmd.TABLES}


def qualified(table: str) -> str:
    return f"{seed_cmd.SCHEMA_OF.get(table, 'public')}.{table}"


def expected_rows() -> dict:
    return {qualified(t): n for t, n in seed_cmd.expected_rows(SCALE).items()}


def content(url: str) -> dict:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SET TimeZone = 'UTC'")
        tables = [r[0] for r in c.execute(CONTENT_TABLES).fetchall()]
        out = {t: c.execute(f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                            f"FROM {t} AS t").fetchone() for t in tables}
        out["sequences"] = c.execute("SELECT schemaname, sequencename, last_value FROM pg_sequences "
                                     "WHERE schemaname !~ '^(pg_|_timescaledb)' ORDER BY 1, 2").fetchall()
    return out


def schema(url: str) -> dict:
    with psycopg.connect(url, autocommit=True) as c:
        return catalog.snapshot(c)


def state(url: str) -> tuple:
    """What a failed restore must not change: rows, schema, and the database's settings."""
    return content(url), schema(url), database_props(url)


def database_props(url: str) -> tuple:
    with psycopg.connect(url, autocommit=True) as c:
        return c.execute("""SELECT d.datacl::text, (SELECT array_agg(x ORDER BY x) FROM pg_db_role_setting s,
                                                       unnest(s.setconfig) x
                                                     WHERE s.setdatabase = d.oid AND s.setrole = 0),
                                   pg_get_userbyid(d.datdba)
                            FROM pg_database d WHERE d.datname = current_database()""").fetchone()


def hypertables(url: str) -> dict:
    with psycopg.connect(url) as c:
        return dict(c.execute("SELECT hypertable_schema || '.' || hypertable_name, num_chunks "
                              "FROM timescaledb_information.hypertables").fetchall())


def chunks(url: str, hypertable: str) -> list[tuple]:
    """Each chunk of the hypertable: its table, time range, and rows (read from the chunk itself)."""
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SET TimeZone = 'UTC'")
        found = c.execute("""SELECT format('%%I.%%I', chunk_schema, chunk_name), range_start, range_end
                             FROM timescaledb_information.chunks
                             WHERE format('%%I.%%I', hypertable_schema, hypertable_name) = %s
                             ORDER BY range_start""", [hypertable]).fetchall()
        return [(name, start, end, c.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
                for name, start, end in found]


def databases(server) -> set[str]:
    with server.admin() as c:
        return {r[0] for r in c.execute("SELECT datname FROM pg_database").fetchall()}


def cron_jobs(server, database: str) -> dict:
    with server.admin() as c:
        rows = c.execute("SELECT jobname, schedule, command, active FROM cron.job WHERE database = %s",
                         [database]).fetchall()
    return {r[0]: r[1:] for r in rows}


def pg_restore_list(path) -> subprocess.CompletedProcess:
    return subprocess.run([str(cluster.find_bindir() / "pg_restore"), "--list", str(path)],
                          capture_output=True, text=True)


@pytest.fixture(scope="session")
def seeded_template(server) -> str:
    """Seeded once per session (conftest.py registers these fixtures); each test gets a clone."""
    name = f"bk_seeded_{os.getpid()}"
    server.create_db(name, server.template)
    try:
        seed(server.url(name), schedule=False)  # a clone's jobs are its own: scheduled per clone
        yield name
    finally:
        server.drop_db(name)


@pytest.fixture
def seeded_db(seeded_template, db_factory) -> str:
    url = db_factory(template=seeded_template)
    with psycopg.connect(url, autocommit=True) as c:
        cron.sync(url, c)
    return url


# ----- GnuPG -----------------------------------------------------------------------------------

RECIPIENT = "dbtool-backup-test@example.invalid"


@pytest.fixture(scope="session")
def gpg_keyring():
    """A throwaway key pair without passphrase (ed25519/cv25519: generated in milliseconds), in a
    short path so gpg-agent's socket fits; plus a keyring holding only its public key."""
    home = tempfile.mkdtemp(prefix="gpg", dir="/tmp")
    public_only = tempfile.mkdtemp(prefix="gpgpub", dir="/tmp")
    env = {**os.environ, "GNUPGHOME": home}
    gpg = ["gpg", "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", ""]
    subprocess.run([*gpg, "--quick-gen-key", RECIPIENT, "future-default", "default", "never"],
                   env=env, check=True, capture_output=True)
    exported = subprocess.run(["gpg", "--batch", "--export", RECIPIENT], env=env, check=True,
                              capture_output=True).stdout
    subprocess.run(["gpg", "--batch", "--quiet", "--import"], input=exported, check=True, capture_output=True,
                   env={**os.environ, "GNUPGHOME": public_only})
    yield {"home": home, "public_only": public_only}
    for h in (home, public_only):
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": h}, capture_output=True)
        shutil.rmtree(h, ignore_errors=True)


@pytest.fixture
def gpg_home(gpg_keyring, monkeypatch) -> dict:
    monkeypatch.setenv("GNUPGHOME", gpg_keyring["home"])
    return gpg_keyring


# ----- S3 on loopback --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def s3_server():
    from moto.server import ThreadedMotoServer
    port = cluster.free_port()
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    srv.start()
    yield f"http://127.0.0.1:{port}"
    srv.stop()


@pytest.fixture
def s3(s3_server, monkeypatch, request):
    """A fresh bucket on the loopback S3 server, with the environment any AWS tool reads."""
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    import boto3
    client = boto3.client("s3")
    bucket = "bk-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    client.create_bucket(Bucket=bucket)
    return client, bucket
