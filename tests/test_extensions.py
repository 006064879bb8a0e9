"""The session cluster is a real PostgreSQL with every extension the schema needs."""

import psycopg
import pytest

from dbtool import cluster

REQUIRED = ["uuid-ossp", "pgcrypto", "pg_trgm", "btree_gin", "pg_stat_statements", "timescaledb", "vector"]


def test_server_preloads_stat_statements_cron_and_timescaledb(server):
    with server.admin() as c:
        libs = c.execute("SHOW shared_preload_libraries").fetchone()[0]
    assert sorted(x.strip() for x in libs.split(",")) == sorted(cluster.PRELOAD.split(","))


@pytest.mark.parametrize("ext", REQUIRED)
def test_each_required_extension_can_be_created_in_a_fresh_database(empty_db, conn_to, ext):
    c = conn_to(empty_db)
    c.execute(f'CREATE EXTENSION "{ext}"')
    assert c.execute("SELECT count(*) FROM pg_extension WHERE extname = %s", [ext]).fetchone()[0] == 1


def test_pg_cron_can_be_created_only_in_the_cron_database(server, empty_db, conn_to):
    with pytest.raises(psycopg.Error, match="can only create extension in database"):
        conn_to(empty_db).execute("CREATE EXTENSION pg_cron")
    cron_conn = conn_to(server.url("postgres"))
    cron_conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
    assert cron_conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'").fetchone()


def test_migrated_template_has_every_extension_of_the_schema(migrated_db, conn_to):
    have = {r[0] for r in conn_to(migrated_db).execute("SELECT extname FROM pg_extension")}
    assert set(REQUIRED) <= have


def test_vector_and_timescaledb_work_not_just_install(migrated_db, conn_to):
    c = conn_to(migrated_db)
    assert c.execute("SELECT '[3,4]'::vector <-> '[0,0]'::vector").fetchone()[0] == 5.0
    c.execute("CREATE TABLE ts_probe (time timestamptz NOT NULL, v int)")
    c.execute("SELECT create_hypertable('ts_probe', 'time')")
    assert c.execute("SELECT count(*) FROM timescaledb_information.hypertables "
                     "WHERE hypertable_name = 'ts_probe'").fetchone()[0] == 1
