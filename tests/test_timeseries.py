"""activity_timeline on TimescaleDB: chunks by time, retention, daily_activity_summary, and which path the
migration took on this server's edition. The community-edition tests are written for real and skip
where timescaledb.license is not 'timescale' (this machine runs Debian's Apache-only build)."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from schema_support import APP, OPS, acting_as, attempt, cloned_db, seed_tenant


@pytest.fixture(scope="module")
def db(server):
    with cloned_db(server, "timeline") as url:
        with psycopg.connect(url, autocommit=True) as c:
            a, b = seed_tenant(c, "ts-a"), seed_tenant(c, "ts-b")
            # five weeks of hourly events for A, and a few events over a year old
            c.execute("""INSERT INTO public.activity_timeline (time, tenant_id, user_id, deal_id, event_type,
                                                               value_impacted)
                         SELECT now() - g * INTERVAL '1 hour', %(t)s, %(u)s, %(d)s, 'deal_viewed', 1
                         FROM generate_series(1, 5 * 7 * 24) AS g""", {"t": a["tenant"], "u": a["user1"], "d": a["deal"]})
            c.execute("""INSERT INTO public.activity_timeline (time, tenant_id, event_type)
                         SELECT now() - INTERVAL '400 days' - g * INTERVAL '1 day', %s, 'login'
                         FROM generate_series(1, 3) AS g""", [b["tenant"]])
        yield url, a, b


@pytest.fixture
def conn(db, conn_to):
    return conn_to(db[0])


def license_of(conn) -> str:
    return conn.execute("SELECT current_setting('timescaledb.license')").fetchone()[0]


def test_activity_timeline_is_a_hypertable_on_time_with_weekly_chunks(conn):
    dim = conn.execute("""SELECT column_name, time_interval FROM timescaledb_information.dimensions
                          WHERE hypertable_name = 'activity_timeline'""").fetchall()
    assert [(d[0], d[1].days) for d in dim] == [("time", 7)]


def test_weeks_of_rows_land_in_several_chunks_in_the_private_chunk_schema(conn):
    chunks = conn.execute("""SELECT chunk_schema, count(*) FROM timescaledb_information.chunks
                             WHERE hypertable_name = 'activity_timeline' GROUP BY 1""").fetchall()
    assert len(chunks) == 1 and chunks[0][0] == "timeline_chunks" and chunks[0][1] >= 6
    usage = conn.execute("""SELECT has_schema_privilege(r, 'timeline_chunks', 'USAGE')
                            FROM unnest(ARRAY['maplatform_app', 'maplatform_readonly', 'maplatform_ops']) AS r""")
    assert [u[0] for u in usage] == [False, False, False]


def test_the_app_writes_and_reads_the_timeline_of_its_tenant_only(conn, db):
    _, a, b = db
    with acting_as(conn, APP, a["tenant"]):
        conn.execute("INSERT INTO public.activity_timeline (time, event_type) VALUES (now() + INTERVAL '30 days', 'x')")
        tenants = {r[0] for r in conn.execute("SELECT DISTINCT tenant_id FROM public.activity_timeline")}
        deleted = conn.execute("DELETE FROM public.activity_timeline WHERE tenant_id = %s", [b["tenant"]]).rowcount
        own = conn.execute("UPDATE public.activity_timeline SET event_type = 'seen' WHERE tenant_id = %s "
                           "AND time > now() - INTERVAL '1 day'", [a["tenant"]]).rowcount
    assert tenants == {a["tenant"]} and deleted == 0 and own > 0


def test_retention_drops_year_old_chunks_and_keeps_the_rest(conn, db):
    _, a, b = db
    before = conn.execute("SELECT count(*) FROM public.activity_timeline").fetchone()[0]
    with conn.transaction(force_rollback=True):
        dropped = conn.execute("SELECT ops.drop_expired_activity_timeline()").fetchone()[0]
        old = conn.execute("SELECT count(*) FROM public.activity_timeline "
                           "WHERE time < now() - INTERVAL '1 year'").fetchone()[0]
        kept = conn.execute("SELECT count(*) FROM public.activity_timeline").fetchone()[0]
    assert dropped >= 1 and old == 0 and kept == before - 3


def test_daily_activity_summary_counts_per_tenant_and_day(conn, db):
    _, a, b = db
    conn.execute("SELECT ops.refresh_daily_activity_summary()")
    yesterday = conn.execute("""SELECT event_count, active_users, active_deals, total_value_impacted
                                FROM public.daily_activity_summary
                                WHERE tenant_id = %s AND day = time_bucket('1 day', now() - INTERVAL '1 day')""",
                             [a["tenant"]]).fetchone()
    assert yesterday == (24, 1, 1, Decimal(24))
    with acting_as(conn, APP, b["tenant"]):
        assert conn.execute("SELECT sum(event_count) FROM public.tenant_daily_activity_summary").fetchone()[0] == 4


def test_on_this_edition_the_capabilities_view_tells_the_path_taken(conn):
    with acting_as(conn, OPS):
        row = conn.execute("SELECT edition, compression, retention, daily_activity_summary "
                           "FROM ops.timescaledb_capabilities").fetchone()
    if license_of(conn) == "apache":
        assert row == ("apache", "unavailable: the Apache edition has no compression",
                       "pg_cron job activity_timeline_retention (drop_chunks)",
                       "materialized view refreshed by pg_cron job refresh_daily_activity_summary")
    else:
        assert row[1].startswith("unavailable: TimescaleDB refuses") and row[2] == "timescaledb retention policy"


def test_the_apache_edition_really_refuses_policies_compression_and_continuous_aggregates(conn):
    if license_of(conn) != "apache":
        pytest.skip("timescaledb.license is not 'apache': the refusals tested here are the Apache build's")
    for stmt in ("SELECT add_retention_policy('public.activity_timeline', INTERVAL '1 year')",
                 "ALTER TABLE public.activity_timeline SET (timescaledb.compress)",
                 "CREATE MATERIALIZED VIEW probe_cagg WITH (timescaledb.continuous) AS "
                 "SELECT time_bucket('1 day', time) AS d, count(*) FROM public.activity_timeline GROUP BY 1 WITH NO DATA"):
        _, err = attempt(conn, stmt)
        assert err is not None and "apache" in err.diag.message_primary.lower(), (stmt, err)


def _community(conn):
    if license_of(conn) != "timescale":
        pytest.skip("timescaledb.license is not 'timescale' (this server runs the Apache edition): "
                    "the community-edition path cannot run here")


def test_community_edition_uses_a_one_year_retention_policy_and_no_cron_job(conn):
    _community(conn)
    policy = conn.execute("""SELECT config->>'drop_after' FROM timescaledb_information.jobs
                             WHERE proc_name = 'policy_retention' AND hypertable_name = 'activity_timeline'""").fetchone()
    assert policy == ("1 year",)
    assert conn.execute("SELECT count(*) FROM ops.cron_jobs WHERE jobname = 'activity_timeline_retention'").fetchone()[0] == 0


def test_community_edition_refuses_compression_and_continuous_aggregates_on_an_rls_table(conn):
    """Why compression and the continuous aggregate are not created even here (docs/timescaledb.md)."""
    _community(conn)
    _, err = attempt(conn, "ALTER TABLE public.activity_timeline SET (timescaledb.compress, "
                           "timescaledb.compress_segmentby = 'tenant_id')")
    assert err is not None and "row security" in err.diag.message_primary
    _, err = attempt(conn, "CREATE MATERIALIZED VIEW probe_cagg WITH (timescaledb.continuous) AS "
                           "SELECT time_bucket('1 day', time) AS d, tenant_id, count(*) FROM public.activity_timeline "
                           "GROUP BY 1, 2 WITH NO DATA")
    assert err is not None and "row" in err.diag.message_primary.lower()


def test_community_edition_compression_and_continuous_aggregate_work_without_rls(conn):
    """The design the document wants, proven on a scratch copy of the table without row-level security:
    what the edition could do if isolation were enforced elsewhere (docs/timescaledb.md)."""
    _community(conn)
    with conn.transaction(force_rollback=True):
        conn.execute("CREATE TABLE probe (LIKE public.activity_timeline)")
        conn.execute("SELECT create_hypertable('probe', 'time')")
        conn.execute("ALTER TABLE probe SET (timescaledb.compress, timescaledb.compress_segmentby = 'tenant_id')")
        conn.execute("SELECT add_compression_policy('probe', INTERVAL '7 days')")
        conn.execute("SELECT add_retention_policy('probe', INTERVAL '1 year')")
        conn.execute("""CREATE MATERIALIZED VIEW probe_daily WITH (timescaledb.continuous) AS
                        SELECT time_bucket('1 day', time) AS day, tenant_id, count(*) AS event_count
                        FROM probe GROUP BY day, tenant_id WITH NO DATA""")
        conn.execute("""SELECT add_continuous_aggregate_policy('probe_daily', start_offset => INTERVAL '3 days',
                        end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour')""")
        jobs = {r[0] for r in conn.execute(
            """SELECT j.proc_name FROM timescaledb_information.jobs AS j
               WHERE j.hypertable_name = 'probe'
                  OR j.hypertable_name = (SELECT c.materialization_hypertable_name
                                          FROM timescaledb_information.continuous_aggregates AS c
                                          WHERE c.view_name = 'probe_daily')""")}
    assert jobs == {"policy_compression", "policy_retention", "policy_refresh_continuous_aggregate"}
