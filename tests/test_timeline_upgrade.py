"""The upgrade path of issue 13: a database built by the migrations as they were before 0016 (the
timeline a hypertable in public with row-level security), holding data, is moved to the new shape
(0016-0018) without losing a row, and 0018's rollback moves it back, on whichever TimescaleDB edition
the test cluster runs (PG_BINDIR selects a community build, README)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from dbtool import config
from dbtool.commands.migrate import migrate
from dbtool.commands.rollback import rollback
from schema_support import APP, acting_as, edition, old_project, refresh_summaries, seed_tenant

EVENTS_PER_TENANT = 24 * 60  # hourly, two months (one of them from seed_tenant): old enough to compress
PROJECT = config.load(Path(__file__).resolve().parent.parent)
TIMELINE_ROWS = """SELECT tenant_id, count(*), md5(string_agg(time::text || event_type, ',' ORDER BY time, event_type))
                   FROM {} GROUP BY tenant_id ORDER BY tenant_id"""


@pytest.fixture(scope="module")
def upgraded(server, tmp_path_factory):
    """(url, tenants, rows per tenant before the upgrade) of a database migrated by the old files to
    0015, given data, then migrated by today's files."""
    old = old_project(tmp_path_factory.mktemp("old"))
    if old is None:
        pytest.skip("git history is not available: the schema before 0016 cannot be rebuilt")
    name = "timeline_upgrade"
    url = server.create_db(name)
    try:
        migrate(url, config.load(old), sync_cron=False)
        with psycopg.connect(url, autocommit=True) as c:
            assert c.execute("SELECT to_regclass('timeline.activity_timeline')").fetchone()[0] is None
            tenants = [seed_tenant(c, tag, timeline="public.activity_timeline") for tag in ("up-a", "up-b")]
            for who in tenants:
                c.execute("""INSERT INTO public.activity_timeline (time, tenant_id, user_id, deal_id, event_type)
                             SELECT now() - g * INTERVAL '1 hour', %(tenant)s, %(user1)s, %(deal)s, 'viewed_' || g %% 5
                             FROM generate_series(1, %(n)s) AS g""", {**who, "n": EVENTS_PER_TENANT - 1})
            before = c.execute(TIMELINE_ROWS.format("public.activity_timeline")).fetchall()
        migrate(url, PROJECT, sync_cron=False)
        yield url, tenants, before
    finally:
        server.drop_db(name)


def test_the_upgrade_keeps_every_event_of_every_tenant(upgraded, conn_to):
    url, _, before = upgraded
    after = conn_to(url).execute(TIMELINE_ROWS.format("timeline.activity_timeline")).fetchall()
    assert after == before and sum(r[1] for r in after) == 2 * EVENTS_PER_TENANT


def test_after_the_upgrade_each_tenant_reads_its_events_through_the_view_and_the_summary(upgraded, conn_to):
    url, (a, b), before = upgraded
    c = conn_to(url)
    refresh_summaries(c)
    counts = {}
    for who in (a, b):
        with acting_as(c, APP, who["tenant"]):
            counts[who["tenant"]] = (
                c.execute("SELECT count(*), count(DISTINCT tenant_id) FROM public.activity_timeline").fetchone(),
                c.execute("SELECT sum(event_count) FROM public.tenant_daily_activity_summary").fetchone()[0])
    for who in (a, b):
        (rows, tenants), summarized = counts[who["tenant"]]
        assert rows == EVENTS_PER_TENANT and tenants == 1
        assert EVENTS_PER_TENANT - 24 <= summarized <= EVENTS_PER_TENANT  # today may not be materialized


def test_after_the_upgrade_the_edition_has_its_features(upgraded, conn_to):
    url, _, _ = upgraded
    c = conn_to(url)
    row = c.execute("SELECT hypertable, compression, retention, daily_activity_summary "
                    "FROM ops.timescaledb_capabilities").fetchone()
    if edition(c) == "timescale":
        assert row == ("timeline.activity_timeline", "enabled, with a compression policy",
                       "timescaledb retention policy", "continuous aggregate")
    else:
        assert row == ("timeline.activity_timeline", "unavailable: the Apache edition has no compression",
                       "pg_cron job activity_timeline_retention (drop_chunks)",
                       "materialized view refreshed by pg_cron job refresh_daily_activity_summary")


def test_rolling_back_0018_restores_the_old_shape_with_every_row_even_compressed_ones(upgraded, conn_to):
    """On the community edition old chunks are compressed first, so the rollback has to decompress
    them before it may turn row-level security back on."""
    url, _, before = upgraded
    c = conn_to(url)
    if edition(c) == "timescale":
        job = c.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression' "
                        "AND hypertable_schema = 'timeline'").fetchone()[0]
        c.execute("CALL run_job(%s)", [job])
        assert c.execute("SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed").fetchone()[0] > 0
    rollback(url, PROJECT, to="0017", sync_cron=False)
    shape = c.execute("""SELECT c.relrowsecurity, c.relforcerowsecurity, to_regclass('timeline.activity_timeline'),
                                to_regclass('public.daily_activity_summary') IS NOT NULL
                         FROM pg_class c WHERE c.oid = 'public.activity_timeline'::regclass""").fetchone()
    rows = c.execute(TIMELINE_ROWS.format("public.activity_timeline")).fetchall()
    compressed = c.execute("SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed").fetchone()[0]
    migrate(url, PROJECT, sync_cron=False)  # and forward again
    again = c.execute(TIMELINE_ROWS.format("timeline.activity_timeline")).fetchall()
    assert shape == (True, True, None, True) and compressed == 0
    assert rows == before and again == before
