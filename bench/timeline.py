"""Section 7 of docs/benchmarks.md: activity_timeline as the application reads it since 0018, on a
skewed data set (issue 13), on whichever TimescaleDB edition the run's server has.

After `dbtool seed` every tenant has about the same number of events; skew() gives one tenant
SKEW_FACTOR times the median tenant's, as extra events over the last SKEW_DAYS days. maintain() then
does what the edition's jobs would have done by the time anyone reads the data: on the community
edition it runs the compression policy's job (chunks older than 7 days, segmented by tenant) and
refreshes the continuous aggregate, timing both; on the Apache edition it refreshes the materialized
view. measure() compares each of the application's ways into the timeline, for a small tenant and
for the large one, with the superuser's hand-filtered query on timeline.activity_timeline.
"""

from __future__ import annotations

import time

import psycopg

from .queries import TIMELINE_LATEST_BY_HAND, TIMELINE_LATEST_VIEW, Query
from .sections import server_times
from .sessions import QuerySide, Session, sample_tenants, tenant
from .timing import interleave

SKEW_FACTOR = 100  # the large tenant's events: this many times the median tenant's
SKEW_DAYS = 30  # over the last 30 days, so that both compressed (older than 7 days) and recent chunks hold them
LATEST_GOAL, RANGE_GOAL = 1.15, 1.5
COMMUNITY = "timescale"  # current_setting('timescaledb.license') of the community edition

EVENT_TYPES = ("'deal_viewed', 'deal_viewed', 'deal_viewed', 'document_viewed', 'document_viewed', "
               "'document_uploaded', 'stage_changed', 'comment_added', 'task_completed', 'meeting_logged', "
               "'valuation_updated'")

# The large tenant's extra events: evenly over the period, newest first as n grows, each naming one of
# the tenant's users and deals (the composite foreign keys check it), values like the seed's.
SKEW_SQL = f"""
INSERT INTO timeline.activity_timeline (time, tenant_id, user_id, deal_id, event_type, event_data, value_impacted,
                                        duration_seconds, ip_address, user_agent, session_id)
SELECT
    now() - INTERVAL '{SKEW_DAYS} days' * (g.n::DOUBLE PRECISION / %(rows)s) - INTERVAL '1 second' * ((g.n * 7919) %% 600),
    %(tenant)s,
    u.ids[1 + (g.n * 31) %% cardinality(u.ids)],
    d.ids[1 + (g.n * 104729) %% cardinality(d.ids)],
    e.event_type,
    jsonb_build_object('source', (ARRAY['web', 'web', 'web', 'mobile', 'api'])[1 + (g.n * 17) %% 5]),
    CASE WHEN e.event_type IN ('stage_changed', 'valuation_updated') THEN ((g.n * 104729) %% 20000) * 1000 END,
    CASE WHEN e.event_type IN ('deal_viewed', 'document_viewed', 'meeting_logged') THEN 5 + (g.n * 13) %% 1800 END,
    '10.200.0.1'::INET,
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15',
    u.ids[1 + (g.n * 31) %% cardinality(u.ids)]
FROM generate_series(0::BIGINT, %(rows)s - 1) AS g (n)
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM public.users WHERE tenant_id = %(tenant)s) AS u
CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM public.deals WHERE tenant_id = %(tenant)s) AS d
CROSS JOIN LATERAL (SELECT (ARRAY[{EVENT_TYPES}])[1 + (g.n * 7) %% 11] AS event_type) AS e
"""


def edition(conn: psycopg.Connection) -> str:
    return conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0] or "unknown"


def edition_name(license_: str) -> str:
    return {"timescale": "community", "apache": "Apache"}.get(license_, license_)


def large_tenant_index(tenants: int, sampled: int = 5) -> int:
    """Which tenant (in id order) becomes the large one: none of sample_tenants()'s, which stay small."""
    taken = {i * tenants // sampled for i in range(sampled)}
    i = tenants // (2 * sampled)
    while i in taken:
        i += 1
    if i >= tenants:
        raise ValueError(f"{tenants} tenants: the skewed data set needs more than {sampled}")
    return i


def skew(url: str) -> dict:
    """One tenant gets SKEW_FACTOR times the median tenant's events (extra events over SKEW_DAYS days)."""
    with psycopg.connect(url, autocommit=True) as c:
        ids = [r[0] for r in c.execute("SELECT id::TEXT FROM public.tenants ORDER BY id")]
        big = ids[large_tenant_index(len(ids))]
        median = c.execute("""SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n)
                              FROM (SELECT count(*) AS n FROM timeline.activity_timeline GROUP BY tenant_id) AS s"""
                           ).fetchone()[0]
        before = c.execute("SELECT count(*) FROM timeline.activity_timeline WHERE tenant_id = %s", [big]).fetchone()[0]
        rows = SKEW_FACTOR * median - before
        started = time.perf_counter()
        c.execute(SKEW_SQL, {"rows": rows, "tenant": big})
        seconds = time.perf_counter() - started
        total = c.execute("SELECT count(*) FROM timeline.activity_timeline").fetchone()[0]
        recent = c.execute("""SELECT count(*) FROM timeline.activity_timeline
                              WHERE tenant_id = %s AND time > now() - INTERVAL '7 days'""", [big]).fetchone()[0]
        recent_small = c.execute("""SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n) FROM (
                                        SELECT count(*) AS n FROM timeline.activity_timeline
                                        WHERE time > now() - INTERVAL '7 days' AND tenant_id <> %s
                                        GROUP BY tenant_id) AS s""", [big]).fetchone()[0]
    return {"tenant": big, "median": median, "large": before + rows, "added": rows, "seconds": seconds,
            "total": total, "tenants": len(ids), "large_7d": recent, "median_7d": recent_small}


def maintain(url: str) -> dict:
    """What the edition's jobs do to the timeline, done now (no background job runs in the benchmark's
    cluster): compression and the continuous aggregate's refresh (community, both timed), or the
    materialized view's refresh (Apache); then VACUUM (ANALYZE) of what changed."""
    with psycopg.connect(url, autocommit=True) as c:
        lic = edition(c)
        out: dict = {"edition": lic}
        if lic == COMMUNITY:
            job = c.execute("""SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression'
                               AND hypertable_schema = 'timeline' AND hypertable_name = 'activity_timeline'""").fetchone()[0]
            out["size_before"] = c.execute("SELECT hypertable_size('timeline.activity_timeline')").fetchone()[0]
            c.execute("CHECKPOINT")  # the job's time is its own, not the load's writes
            started = time.perf_counter()
            c.execute("CALL run_job(%s)", [job])
            out["compress_seconds"] = time.perf_counter() - started
            out["size_after"] = c.execute("SELECT hypertable_size('timeline.activity_timeline')").fetchone()[0]
            stats = c.execute("""SELECT total_chunks, number_compressed_chunks, before_compression_total_bytes,
                                        after_compression_total_bytes
                                 FROM hypertable_compression_stats('timeline.activity_timeline')""").fetchone()
            out["chunks"], out["compressed_chunks"], out["before_bytes"], out["after_bytes"] = stats
            out["compressed_rows"] = c.execute(
                """SELECT count(*) FROM timeline.activity_timeline WHERE time < (
                       SELECT max(range_end) FROM timescaledb_information.chunks
                       WHERE hypertable_schema = 'timeline' AND hypertable_name = 'activity_timeline' AND is_compressed)"""
            ).fetchone()[0]
            started = time.perf_counter()
            c.execute("CALL refresh_continuous_aggregate('timeline.daily_activity_summary', NULL, NULL)")
            out["summary_seconds"] = time.perf_counter() - started
            mat = c.execute("""SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)
                               FROM timescaledb_information.continuous_aggregates
                               WHERE view_schema = 'timeline' AND view_name = 'daily_activity_summary'""").fetchone()[0]
            c.execute(f"VACUUM (ANALYZE) {mat}")
        else:
            started = time.perf_counter()
            c.execute("SELECT ops.refresh_daily_activity_summary()")
            out["summary_seconds"] = time.perf_counter() - started
            c.execute("VACUUM (ANALYZE) timeline.daily_activity_summary")
        c.execute("VACUUM (ANALYZE) timeline.activity_timeline")
        out["summary_rows"] = c.execute("SELECT count(*) FROM timeline.daily_activity_summary").fetchone()[0]
    return out


def range_chunks(url: str) -> tuple[int, int]:
    """Chunks overlapping days 8-30 and how many of them are compressed."""
    with psycopg.connect(url, autocommit=True) as c:
        return c.execute("""SELECT count(*), count(*) FILTER (WHERE is_compressed) FROM timescaledb_information.chunks
                            WHERE hypertable_schema = 'timeline' AND hypertable_name = 'activity_timeline'
                              AND range_end > now() - INTERVAL '30 days' AND range_start < now() - INTERVAL '8 days'"""
                         ).fetchone()


RANGE_WHERE = "time >= now() - INTERVAL '30 days' AND time < now() - INTERVAL '8 days'"
RANGE_COLUMNS = "event_type, count(*) AS events, sum(value_impacted) AS value_impacted"
SUMMARY_COLUMNS = "day, event_count, active_users, active_deals, total_value_impacted"


def queries(lic: str) -> list[tuple[Query, float | None]]:
    """The section's queries with their goals (None: for comparison only). The range's title says
    whether its chunks are compressed, which only the community edition can do."""
    where = ("days 8–30: compressed chunks" if lic == COMMUNITY
             else "days 8–30: uncompressed (the Apache edition has no compression)")
    return [
        (Query("latest", "latest 50 of the last 7 days: latest_activity(now() - 7 days, 50)",
               "SELECT time, event_type, deal_id, user_id FROM public.latest_activity(now() - INTERVAL '7 days', 50)",
               TIMELINE_LATEST_BY_HAND), LATEST_GOAL),
        (Query("latest_view", "↳ the same through the view: public.activity_timeline ORDER BY time DESC LIMIT 50",
               TIMELINE_LATEST_VIEW, TIMELINE_LATEST_BY_HAND), None),
        (Query("range", f"{where}, events and value per event_type, through the view",
               f"SELECT {RANGE_COLUMNS} FROM public.activity_timeline WHERE {RANGE_WHERE} "
               "GROUP BY event_type ORDER BY event_type",
               f"SELECT {RANGE_COLUMNS} FROM timeline.activity_timeline WHERE tenant_id = %(tenant)s AND {RANGE_WHERE} "
               "GROUP BY event_type ORDER BY event_type"), RANGE_GOAL),
        (Query("summary", "daily summary of the last 30 days: public.tenant_daily_activity_summary",
               f"SELECT {SUMMARY_COLUMNS} FROM public.tenant_daily_activity_summary "
               "WHERE day >= now() - INTERVAL '30 days' ORDER BY day",
               f"SELECT {SUMMARY_COLUMNS} FROM timeline.daily_activity_summary "
               "WHERE tenant_id = %(tenant)s AND day >= now() - INTERVAL '30 days' ORDER BY day"), None),
    ]


def _rows(rows: list) -> list[str]:
    return sorted(map(repr, rows))


def measure(url: str, runs: int, target_s: float, data: dict) -> dict:
    """Each query for the small tenants (rotating over sample_tenants()) and for the large one, as the
    application (A) against the superuser's hand-filtered query (B), interleaved."""
    small = sample_tenants(url)
    with psycopg.connect(url, autocommit=True) as c:
        lic = edition(c)
        large = [tenant(c, data["skew"]["tenant"])]
    app, owner = Session(url, as_app=True), Session(url, as_app=False)
    rows = []
    try:
        for q, goal in queries(lic):
            for size, tenants in (("small", small), ("large", large)):
                pair = interleave(QuerySide(app, q, tenants), QuerySide(owner, q, tenants), runs, target_s)
                app.use(tenants[0])
                owner.use(tenants[0])
                mine, theirs = app.run(q), owner.run(q)
                row = {"query": q, "size": size, "goal": goal, "pair": pair, "rows_app": len(mine),
                       "rows_owner": len(theirs), "same_rows": _rows(mine) == _rows(theirs)}
                if size == "large" or q.key == "range":
                    row["plans"] = {"app": app.explain(q), "owner": owner.explain(q)}
                # the server's planning and execution times, within about 2 s of EXPLAINs per row
                each = (pair.ms("a") + pair.ms("b")) / 1000 * 1.5
                row["server"] = server_times(app, owner, q, tenants, max(5, min(10 * runs, int(2.0 / each))))
                rows.append(row)
    finally:
        app.close()
        owner.close()
    total, compressed = range_chunks(url)
    return {"edition": lic, "rows": rows, "data": data, "range_chunks": total, "range_compressed": compressed,
            "small_tenants": [t.id for t in small], "large_tenant": large[0].id}
