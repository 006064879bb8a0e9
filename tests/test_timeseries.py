"""activity_timeline on TimescaleDB: a hypertable in a private schema, reached through the tenant-filtered
view public.activity_timeline and latest_activity(); retention and daily_activity_summary on both
editions; compression and the continuous aggregate on the community edition.

The suite runs on whichever edition the test cluster has (Debian's build is 'apache'; set PG_BINDIR to
a community build, README). Community-only tests skip on the Apache edition, and Apache-only ones on
the community edition, each saying why."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from schema_support import (APP, OPS, READONLY, TIMELINE_DML_BUG, acting_as, attempt, cloned_db, edition,
                            refresh_summaries, seed_tenant, timeline_dml_bug)

WEEKS = 5


@pytest.fixture(scope="module")
def db(server):
    with cloned_db(server, "timeline") as url:
        with psycopg.connect(url, autocommit=True) as c:
            a, b = seed_tenant(c, "ts-a"), seed_tenant(c, "ts-b")
            # five weeks of hourly events for A and B, and a few events over a year old for B
            for who, kind in ((a, "deal_viewed"), (b, "deal_edited")):
                c.execute("""INSERT INTO timeline.activity_timeline (time, tenant_id, user_id, deal_id, event_type,
                                                                     value_impacted)
                             SELECT now() - g * INTERVAL '1 hour', %(t)s, %(u)s, %(d)s, %(k)s, 1
                             FROM generate_series(1, %(n)s) AS g""",
                          {"t": who["tenant"], "u": who["user1"], "d": who["deal"], "k": kind, "n": WEEKS * 7 * 24})
            c.execute("""INSERT INTO timeline.activity_timeline (time, tenant_id, event_type)
                         SELECT now() - INTERVAL '400 days' - g * INTERVAL '1 day', %s, 'login'
                         FROM generate_series(1, 3) AS g""", [b["tenant"]])
        yield url, a, b


@pytest.fixture
def conn(db, conn_to):
    return conn_to(db[0])


def community(conn):
    if edition(conn) != "timescale":
        pytest.skip("timescaledb.license is 'apache' (Debian's build): compression, TimescaleDB's policies and "
                    "continuous aggregates exist only in the community edition; set PG_BINDIR to one (README)")


def apache(conn):
    if edition(conn) != "apache":
        pytest.skip("timescaledb.license is not 'apache': this is the Apache edition's path")


def job_id(conn, proc: str) -> int:
    return conn.execute("""SELECT j.job_id FROM timescaledb_information.jobs AS j
                           WHERE j.proc_name = %s AND (j.hypertable_schema = 'timeline'
                                 OR j.hypertable_name LIKE '\\_materialized%%')""", [proc]).fetchone()[0]


def test_the_hypertable_is_on_time_with_weekly_chunks_in_a_private_schema(conn):
    dim = conn.execute("""SELECT hypertable_schema, column_name, time_interval FROM timescaledb_information.dimensions
                          WHERE hypertable_name = 'activity_timeline'""").fetchall()
    assert [(d[0], d[1], d[2].days) for d in dim] == [("timeline", "time", 7)]
    chunks = conn.execute("""SELECT chunk_schema, count(*) FROM timescaledb_information.chunks
                             WHERE hypertable_name = 'activity_timeline' GROUP BY 1""").fetchall()
    assert len(chunks) == 1 and chunks[0][0] == "timeline_chunks" and chunks[0][1] >= 6
    usage = conn.execute("""SELECT r, has_schema_privilege(r, 'timeline', 'USAGE'),
                                   has_schema_privilege(r, 'timeline_chunks', 'USAGE')
                            FROM unnest(%s::text[]) AS r""", [[APP, READONLY, OPS]]).fetchall()
    assert usage == [(r, False, False) for r in (APP, READONLY, OPS)]


def test_the_app_writes_and_reads_only_its_tenants_events_through_the_view(conn, db):
    _, a, b = db
    with acting_as(conn, APP, a["tenant"]):
        written = conn.execute("INSERT INTO public.activity_timeline (time, event_type) "
                               "VALUES (now() + INTERVAL '30 days', 'x') RETURNING tenant_id").fetchone()[0]
        tenants = {r[0] for r in conn.execute("SELECT DISTINCT tenant_id FROM public.activity_timeline")}
        recent = conn.execute("SELECT count(*) FROM public.activity_timeline WHERE time > now() - INTERVAL '1 day'"
                              ).fetchone()[0]
        own = conn.execute("UPDATE public.activity_timeline SET event_type = 'seen' "
                           "WHERE time > now() - INTERVAL '1 day'").rowcount
        deleted = conn.execute("DELETE FROM public.activity_timeline WHERE time > now() + INTERVAL '29 days'").rowcount
        _, to_b = attempt(conn, "INSERT INTO public.activity_timeline (time, tenant_id, event_type) "
                                "VALUES (now(), %s, 'x')", [b["tenant"]])
        _, move = attempt(conn, "UPDATE public.activity_timeline SET tenant_id = %s "
                                "WHERE time > now() - INTERVAL '1 day'", [b["tenant"]])
    assert written == a["tenant"] and tenants == {a["tenant"]}
    assert own == recent >= 24 and deleted == 1
    assert to_b.sqlstate == move.sqlstate == "44000"  # WITH CHECK OPTION


def test_naming_the_tenant_in_an_update_through_the_view_works_except_where_timescaledb_has_its_planner_bug(conn, db):
    """docs/timescaledb.md: with the equality filter, TimescaleDB before 2.25.2 fails an UPDATE or
    DELETE through the view that repeats tenant_id ("variable not found in subplan target list"); the
    Apache edition uses the one-element ANY form there, which it can afford (no compression). When
    this server's TimescaleDB is upgraded past the bug, this test says so by changing its branch."""
    _, a, b = db
    with acting_as(conn, APP, a["tenant"]):
        updated, err = attempt(conn, "UPDATE public.activity_timeline SET event_type = 'seen' WHERE tenant_id = %s "
                                     "AND time > now() - INTERVAL '1 day'", [a["tenant"]])
        deleted_b, err_b = attempt(conn, "DELETE FROM public.activity_timeline WHERE tenant_id = %s", [b["tenant"]])
    if timeline_dml_bug(conn):
        assert err is not None and TIMELINE_DML_BUG in str(err) and err_b is not None
    else:
        assert err is None and updated >= 23 and (err_b, deleted_b) == (None, 0)


def test_latest_activity_returns_the_newest_events_of_the_tenant_in_order(conn, db):
    _, a, _ = db
    hand = conn.execute("""SELECT time, event_type FROM timeline.activity_timeline
                           WHERE tenant_id = %s AND time > now() - INTERVAL '7 days'
                           ORDER BY time DESC LIMIT 50""", [a["tenant"]]).fetchall()
    with acting_as(conn, APP, a["tenant"]):
        got = conn.execute("SELECT time, event_type FROM public.latest_activity(now() - INTERVAL '7 days', 50)"
                           ).fetchall()
    with acting_as(conn, APP):
        nothing = conn.execute("SELECT count(*) FROM public.latest_activity()").fetchone()[0]
    assert got == hand and len(got) == 50 and nothing == 0


def test_retention_drops_year_old_chunks_and_keeps_the_rest(conn, db):
    before = conn.execute("SELECT count(*) FROM timeline.activity_timeline").fetchone()[0]
    with conn.transaction(force_rollback=True):
        if edition(conn) == "timescale":
            conn.execute("CALL run_job(%s)", [job_id(conn, "policy_retention")])
        else:
            assert conn.execute("SELECT ops.drop_expired_activity_timeline()").fetchone()[0] >= 1
        old = conn.execute("SELECT count(*) FROM timeline.activity_timeline "
                           "WHERE time < now() - INTERVAL '1 year'").fetchone()[0]
        kept = conn.execute("SELECT count(*) FROM timeline.activity_timeline").fetchone()[0]
    assert old == 0 and kept == before - 3


def test_daily_activity_summary_counts_per_tenant_and_day_and_the_app_sees_only_its_own(conn, db):
    _, a, b = db
    refresh_summaries(conn)
    yesterday = conn.execute("""SELECT event_count, active_users, active_deals, total_value_impacted
                                FROM timeline.daily_activity_summary
                                WHERE tenant_id = %s AND day = time_bucket('1 day', now() - INTERVAL '1 day')""",
                             [a["tenant"]]).fetchone()
    assert yesterday == (24, 1, 1, Decimal(24))
    with acting_as(conn, APP, b["tenant"]):
        seen = conn.execute("SELECT count(DISTINCT tenant_id), sum(event_count) "
                            "FROM public.tenant_daily_activity_summary").fetchone()
    total_b = conn.execute("SELECT count(*) FROM timeline.activity_timeline WHERE tenant_id = %s "
                           "AND time < time_bucket('1 day', now())", [b["tenant"]]).fetchone()[0]
    assert seen[0] == 1 and seen[1] >= total_b - 24  # the current day may not be materialized yet


def test_the_capabilities_view_tells_the_path_this_edition_took(conn):
    with acting_as(conn, OPS):
        row = conn.execute("SELECT edition, hypertable, compression, retention, daily_activity_summary "
                           "FROM ops.timescaledb_capabilities").fetchone()
    if edition(conn) == "apache":
        assert row == ("apache", "timeline.activity_timeline", "unavailable: the Apache edition has no compression",
                       "pg_cron job activity_timeline_retention (drop_chunks)",
                       "materialized view refreshed by pg_cron job refresh_daily_activity_summary")
    else:
        assert row == ("timescale", "timeline.activity_timeline", "enabled, with a compression policy",
                       "timescaledb retention policy", "continuous aggregate")


def test_the_apache_edition_really_refuses_policies_compression_and_continuous_aggregates(conn):
    apache(conn)
    for stmt in ("SELECT add_retention_policy('timeline.activity_timeline', INTERVAL '1 year')",
                 "ALTER TABLE timeline.activity_timeline SET (timescaledb.compress)",
                 "CREATE MATERIALIZED VIEW probe_cagg WITH (timescaledb.continuous) AS "
                 "SELECT time_bucket('1 day', time) AS d, count(*) FROM timeline.activity_timeline GROUP BY 1 "
                 "WITH NO DATA"):
        _, err = attempt(conn, stmt)
        assert err is not None and "apache" in err.diag.message_primary.lower(), (stmt, err)


def test_community_edition_policies_exist_run_as_the_owner_and_are_not_cron_jobs(conn):
    community(conn)
    jobs = dict(conn.execute("""SELECT proc_name, owner FROM timescaledb_information.jobs
                                WHERE hypertable_schema = 'timeline' OR hypertable_name LIKE '\\_materialized%%'"""))
    assert jobs == {"policy_compression": "maplatform_owner", "policy_retention": "maplatform_owner",
                    "policy_refresh_continuous_aggregate": "maplatform_owner"}
    config = dict(conn.execute("""SELECT proc_name, config FROM timescaledb_information.jobs
                                  WHERE hypertable_schema = 'timeline'"""))
    assert config["policy_retention"]["drop_after"] == "1 year"
    assert config["policy_compression"]["compress_after"] == "7 days"
    declared = {r[0] for r in conn.execute("SELECT jobname FROM ops.cron_jobs")}
    assert not declared & {"activity_timeline_retention", "refresh_daily_activity_summary"}


def test_community_edition_compresses_old_chunks_by_tenant_and_isolation_holds_on_them(conn, db):
    """The compression policy (run by hand: the test cluster runs no TimescaleDB scheduler) compresses
    the chunks older than 7 days, segmented by tenant; the view still shows each tenant only its own
    rows, reads only its segments, and inserts into a compressed chunk land under the tenant."""
    community(conn)
    _, a, b = db
    conn.execute("CALL run_job(%s)", [job_id(conn, "policy_compression")])
    compressed, total = conn.execute("""SELECT count(*) FILTER (WHERE is_compressed), count(*)
                                        FROM timescaledb_information.chunks
                                        WHERE hypertable_name = 'activity_timeline'""").fetchone()
    settings = dict(conn.execute("""SELECT attname, segmentby_column_index FROM timescaledb_information.compression_settings
                                    WHERE hypertable_name = 'activity_timeline' AND segmentby_column_index IS NOT NULL"""))
    assert compressed >= WEEKS - 2 and settings == {"tenant_id": 1}
    old_range = "time BETWEEN now() - INTERVAL '30 days' AND now() - INTERVAL '8 days'"
    with acting_as(conn, APP, a["tenant"]):
        tenants = {r[0] for r in conn.execute(f"SELECT DISTINCT tenant_id FROM public.activity_timeline "
                                              f"WHERE {old_range}")}
        plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN SELECT count(*) FROM public.activity_timeline "
                                                    f"WHERE {old_range}"))
        conn.execute("INSERT INTO public.activity_timeline (time, event_type) VALUES (now() - INTERVAL '20 days', 'late')")
        _, err = attempt(conn, "UPDATE public.activity_timeline SET tenant_id = %s WHERE event_type = 'late'",
                         [b["tenant"]])
        late = conn.execute("SELECT tenant_id FROM public.activity_timeline WHERE event_type = 'late'").fetchall()
    assert tenants == {a["tenant"]} and late == [(a["tenant"],)] and err.sqlstate == "44000"
    assert "compress_hyper" in plan and "Index Cond: (tenant_id = $0)" in plan, plan


def test_community_edition_daily_summary_is_a_continuous_aggregate_refreshed_by_its_policy(conn, db):
    community(conn)
    _, a, _ = db
    info = conn.execute("""SELECT materialized_only, view_owner FROM timescaledb_information.continuous_aggregates
                           WHERE view_schema = 'timeline' AND view_name = 'daily_activity_summary'""").fetchone()
    assert info == (True, "maplatform_owner")
    conn.execute("INSERT INTO timeline.activity_timeline (time, tenant_id, event_type) "
                 "VALUES (now() - INTERVAL '3 days', %s, 'refresh_probe')", [a["tenant"]])
    conn.execute("CALL run_job(%s)", [job_id(conn, "policy_refresh_continuous_aggregate")])
    day = conn.execute("""SELECT event_count FROM timeline.daily_activity_summary WHERE tenant_id = %s
                          AND day = time_bucket('1 day', now() - INTERVAL '3 days')""", [a["tenant"]]).fetchone()[0]
    raw = conn.execute("""SELECT count(*) FROM timeline.activity_timeline WHERE tenant_id = %s
                          AND time_bucket('1 day', time) = time_bucket('1 day', now() - INTERVAL '3 days')""",
                       [a["tenant"]]).fetchone()[0]
    assert day == raw
