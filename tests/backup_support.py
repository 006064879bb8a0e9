"""Shared by the backup tests: a seeded database, a throwaway GnuPG key, an S3 server on loopback,
and independent ways to say what a database holds (so the tests do not check dbtool's manifest
with dbtool's own fingerprint code)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import psycopg
import pytest

from dbtool import catalog, cluster, cron

# Rows in the application tables that exist when the tests run (the schema is growing; a later
# `dbtool seed` replaces this), then a fixture schema that covers what a dump must carry: an enum,
# identity, numeric, float, arrays, jsonb, bytea, interval, a generated tsvector, a vector, text
# with quotes, tabs, newlines, backslashes and non-ASCII, NULLs, RLS forced with a policy, a
# TimescaleDB hypertable over several chunks with a foreign key, and cron job declarations.
SEED_APP = {
    "public.tenants": """INSERT INTO public.tenants (subdomain, company_name)
        SELECT 'acme-' || g, 'Acme ' || g || ' Holdings' FROM generate_series(1, 3) g""",
    "public.users": """INSERT INTO public.users (tenant_id, clerk_id, email, first_name)
        SELECT t.id, 'clerk_' || t.subdomain || '_' || g, 'user' || g || '@' || t.subdomain || '.example', 'User ' || g
        FROM public.tenants t, generate_series(1, 4) g""",
    "public.deals": """INSERT INTO public.deals (tenant_id, name)
        SELECT t.id, 'Project ' || t.subdomain || '-' || g FROM public.tenants t, generate_series(1, 5) g""",
}

SEED_FIXTURE = r"""
CREATE SCHEMA fixture;
CREATE TYPE fixture.stage AS ENUM ('sourcing', 'diligence', 'closed');
CREATE TABLE fixture.companies (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    stage fixture.stage NOT NULL,
    valuation numeric(14, 2),
    ratio double precision,
    tags text[],
    profile jsonb,
    logo bytea,
    founded date,
    updated_at timestamptz NOT NULL,
    holding interval,
    search tsvector GENERATED ALWAYS AS (to_tsvector('english', name)) STORED,
    embedding public.vector(3));
ALTER TABLE fixture.companies ENABLE ROW LEVEL SECURITY;
ALTER TABLE fixture.companies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON fixture.companies
    USING (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid);
INSERT INTO fixture.companies (tenant_id, name, stage, valuation, ratio, tags, profile, logo, founded,
                               updated_at, holding, embedding)
SELECT ('00000000-0000-0000-0000-00000000000' || (g % 3 + 1))::uuid,
       CASE g % 5 WHEN 0 THEN E'Soci\u00e9t\u00e9 G\u00e9n\u00e9rale \u2116' || g
                  WHEN 1 THEN E'O''Brien & Sons\t"quoted"\n line ' || g
                  WHEN 2 THEN E'back\\slash ' || g ELSE 'Company ' || g END,
       (ARRAY['sourcing', 'diligence', 'closed'])[g % 3 + 1]::fixture.stage,
       CASE WHEN g % 7 = 0 THEN NULL ELSE g * 1234567.89 END,
       g / 3.0::float8, ARRAY['tag' || g, 'sector' || g % 4],
       jsonb_build_object('employees', g * 10, 'public', g % 2 = 0, 'nested', jsonb_build_object('k', g)),
       decode(md5(g::text), 'hex'), date '2001-01-01' + g * 37,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '13 hours 7 minutes',
       make_interval(months => g, days => g % 9),
       ('[' || g || ',' || g * 0.5 || ',' || -g || ']')::public.vector
FROM generate_series(1, 40) g;
CREATE TABLE fixture.events (
    at timestamptz NOT NULL,
    company_id bigint REFERENCES fixture.companies (id),
    kind text NOT NULL,
    payload jsonb);
SELECT public.create_hypertable('fixture.events', 'at', chunk_time_interval => interval '7 days');
INSERT INTO fixture.events
SELECT timestamptz '2024-03-01 00:00:00+00' + g * interval '5 hours', g % 40 + 1,
       (ARRAY['call', 'email', 'meeting'])[g % 3 + 1], jsonb_build_object('n', g)
FROM generate_series(1, 300) g;
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.cron_jobs (jobname text PRIMARY KEY, schedule text NOT NULL,
                                          command text NOT NULL, active boolean NOT NULL DEFAULT true);
INSERT INTO ops.cron_jobs (jobname, schedule, command, active) VALUES
    ('fixture_cleanup', '0 3 * * *', $$DELETE FROM fixture.events WHERE at < now() - interval '90 days'$$, true),
    ('fixture_paused', '*/5 * * * *', 'SELECT 1', false);
"""

# Independent of dbtool's fingerprints: md5 of every row's text, sorted, per top-level table.
CONTENT_TABLES = r"""
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^(pg_|_timescaledb)' AND n.nspname <> 'information_schema'
  AND NOT c.relispartition AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1"""


def seed(url: str) -> dict:
    """Insert rows into every table there is; returns how many rows each app table got."""
    with psycopg.connect(url, autocommit=True) as c:
        got = {}
        for table, insert in SEED_APP.items():
            if c.execute("SELECT to_regclass(%s)", [table]).fetchone()[0]:
                got[table] = c.execute(insert).rowcount
        c.execute(SEED_FIXTURE)
        cron.sync(url, c)  # the source has its jobs scheduled, as after `dbtool migrate`
    return got


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


@pytest.fixture
def seeded_db(migrated_db) -> str:
    seed(migrated_db)
    return migrated_db


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
