-- Move activity_timeline's hypertable into a private schema and give the application a
-- tenant-filtered view of it, so that the community edition of TimescaleDB can compress it, keep
-- it a year and aggregate it, as the architecture document designs, without losing isolation.
--
-- Why (docs/timescaledb.md, docs/deviations.md): TimescaleDB refuses compression and continuous
-- aggregates on a hypertable with row-level security ("compression cannot be used on table with
-- row security", "cannot create continuous aggregate on hypertable with row security"; still so in
-- 2.29). Isolation therefore moves off the hypertable:
--  * the hypertable becomes timeline.activity_timeline, in a schema no tenant-facing role may use,
--    with no grant to them (its chunks stay in timeline_chunks; chunks copy the hypertable's grants,
--    so pg_stats shows their statistics to nobody either);
--  * public.activity_timeline is a security_barrier view with the tenant filter of the policies and
--    WITH CASCADED CHECK OPTION: the application reads, inserts, updates and deletes through it,
--    tenant_id defaults to the tenant of the token, and no row of another tenant can be seen or
--    written. The filter is evaluated in every scan of the hypertable, before any condition of the
--    caller, so not even EXPLAIN ANALYZE's row counts show other tenants' rows (a semi-join filter,
--    tried, let a caller's time condition count every tenant's events, and so did the index on time
--    alone, dropped here). Its form depends on the
--    server: the policies' equality, `tenant_id = (SELECT ...)`, which TimescaleDB pushes into
--    compressed chunks, except on the Apache edition before TimescaleDB 2.25.2, where it is
--    `tenant_id = ANY (ARRAY[(SELECT ...)])`: there an UPDATE or DELETE through the view that
--    repeats `tenant_id = '...'` fails with the equality ("variable not found in subplan target
--    list", fixed upstream in 2.25.2), and the edition has no compression the other form would
--    lose. The community edition before 2.25.2 keeps the equality (compressed reads of a tenant
--    read only its segments) and that limit: the view supplies the tenant, do not repeat it;
--  * public.latest_activity(since, n) is the application's "latest events" query: a view is never
--    flattened into an ORDER BY ... LIMIT, so through the view it reads every event of the period
--    and sorts them, where this function reads n rows of (tenant_id, time DESC) in index order.
-- Per edition, decided at migration time (ops.timescaledb_capabilities shows the path taken):
--  * community (timescaledb.license = 'timescale'): compression segmentby tenant_id, orderby time
--    DESC, policy after 7 days; TimescaleDB's 1-year retention policy; daily_activity_summary
--    becomes a continuous aggregate (materialized_only: a real-time aggregate read through a
--    security_barrier view fails when the caller turns off timescaledb.enable_cagg_watermark_constify,
--    upstream issue 2955) refreshed hourly by its policy. The pg_cron jobs for both go.
--  * Apache (Debian's build): the 1-year retention and the hourly refresh stay pg_cron jobs; the
--    materialized view moves to timeline.daily_activity_summary.
-- The policies of both editions run as the hypertable's owner, maplatform_owner, which can start
-- background jobs since 0016. The application reads the summary through
-- public.tenant_daily_activity_summary on both editions.
SET LOCAL ROLE maplatform_owner;

CREATE SCHEMA timeline AUTHORIZATION maplatform_owner;
COMMENT ON SCHEMA timeline IS
    'activity_timeline''s hypertable and daily summary: no USAGE for tenant-facing roles, who use the views in public';
GRANT USAGE, CREATE ON SCHEMA timeline TO maplatform_maintenance;

-- dbtool-lint: ignore squawk/ban-drop-view because it is re-created below, in the same transaction
DROP VIEW IF EXISTS public.tenant_daily_activity_summary;
DROP POLICY IF EXISTS tenant_isolation ON public.activity_timeline;
ALTER TABLE public.activity_timeline NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.activity_timeline FROM maplatform_app, maplatform_readonly;
-- dbtool-lint: ignore squawk/ban-set-schema because the view below takes its name in the same transaction
ALTER TABLE public.activity_timeline SET SCHEMA timeline;
-- dbtool-lint: ignore squawk/ban-set-schema because the application reads it only through the view re-created below
ALTER MATERIALIZED VIEW public.daily_activity_summary SET SCHEMA timeline;
-- The index create_hypertable made on time alone: a caller's time condition could use it and find
-- every tenant's events before the view's tenant filter, and EXPLAIN ANALYZE would count them; the
-- tenant's queries use (tenant_id, time DESC), retention and the summary's refresh go by chunk.
-- dbtool-lint: ignore squawk/require-concurrent-index-deletion because the table was altered above in this transaction
DROP INDEX timeline.activity_timeline_time_idx;

-- dbtool-lint: ignore migration-recreates because its body names the hypertable, which moved
CREATE OR REPLACE FUNCTION ops.drop_expired_activity_timeline()
RETURNS INTEGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped INTEGER;
BEGIN
    -- Runs as the hypertable's owner: drop_chunks needs ownership.
    SELECT count(*) INTO dropped
    FROM public.drop_chunks('timeline.activity_timeline', older_than => INTERVAL '1 year');
    RETURN dropped;
END
$$;

-- dbtool-lint: ignore migration-recreates because its body names the summary, which moved
CREATE OR REPLACE FUNCTION ops.refresh_daily_activity_summary()
RETURNS VOID
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    REFRESH MATERIALIZED VIEW CONCURRENTLY timeline.daily_activity_summary;
END
$$;

DO $$
BEGIN
    IF current_setting('timescaledb.license', TRUE) IS DISTINCT FROM 'timescale' THEN
        RAISE NOTICE 'TimescaleDB % edition: retention and daily_activity_summary stay pg_cron jobs',
            coalesce(current_setting('timescaledb.license', TRUE), '(unknown)');
        RETURN;
    END IF;
    ALTER TABLE timeline.activity_timeline SET (
        timescaledb.compress,
        timescaledb.compress_segmentby = 'tenant_id',
        timescaledb.compress_orderby = 'time DESC'
    );
    PERFORM public.add_compression_policy('timeline.activity_timeline', INTERVAL '7 days');
    -- A database migrated by hand past the old 0009 on this edition already has the retention policy.
    PERFORM public.add_retention_policy('timeline.activity_timeline', INTERVAL '1 year', if_not_exists => TRUE);
    DELETE FROM ops.cron_jobs WHERE jobname IN ('activity_timeline_retention', 'refresh_daily_activity_summary');
    DROP FUNCTION ops.refresh_daily_activity_summary();
    DROP FUNCTION ops.drop_expired_activity_timeline();
    DROP MATERIALIZED VIEW timeline.daily_activity_summary;
    CREATE MATERIALIZED VIEW timeline.daily_activity_summary
    WITH (timescaledb.continuous, timescaledb.materialized_only = TRUE)
    AS
    SELECT
        public.time_bucket('1 day', time) AS day,
        tenant_id,
        count(*) AS event_count,
        count(DISTINCT user_id) AS active_users,
        count(DISTINCT deal_id) AS active_deals,
        sum(value_impacted) AS total_value_impacted
    FROM timeline.activity_timeline
    GROUP BY day, tenant_id
    WITH NO DATA;
    -- start_offset NULL: the first run materializes the whole history, later runs only the days
    -- whose events changed (TimescaleDB's invalidation log).
    PERFORM public.add_continuous_aggregate_policy('timeline.daily_activity_summary',
        start_offset => NULL, end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour',
        initial_start => now());
END
$$;

-- The tenant filter's form depends on the server (see the header): the view is created from a DO block.
DO $$
DECLARE
    tenant TEXT := 'SELECT app.verified_tenant()';
    fixed BOOLEAN := string_to_array(split_part(
        (SELECT e.extversion FROM pg_extension AS e WHERE e.extname = 'timescaledb'), '-', 1), '.')::INTEGER[]
        >= ARRAY[2, 25, 2];
    filter TEXT;
BEGIN
    IF fixed OR current_setting('timescaledb.license', TRUE) = 'timescale' THEN
        filter := format('a.tenant_id = (%s)', tenant);
    ELSE
        filter := format('a.tenant_id = ANY (ARRAY[(%s)])', tenant);
    END IF;
    EXECUTE format($v$
        CREATE VIEW public.activity_timeline
        WITH (security_barrier = TRUE)
        AS
        SELECT
            a.time, a.tenant_id, a.user_id, a.deal_id, a.event_type, a.event_data, a.value_impacted,
            a.duration_seconds, a.ip_address, a.user_agent, a.session_id
        FROM timeline.activity_timeline AS a
        WHERE %s
        WITH CASCADED CHECK OPTION$v$, filter);
END
$$;
COMMENT ON VIEW public.activity_timeline IS
    'The current tenant''s events (timeline.activity_timeline): read and write here; latest_activity() for the newest';
REVOKE ALL ON public.activity_timeline FROM maplatform_app, maplatform_readonly;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.activity_timeline TO maplatform_app;
GRANT SELECT ON public.activity_timeline TO maplatform_readonly;

CREATE FUNCTION public.latest_activity(
    since TIMESTAMPTZ DEFAULT now() - INTERVAL '7 days', max_rows INTEGER DEFAULT 50
)
RETURNS TABLE (
    "time" TIMESTAMPTZ,  -- dbtool-lint: ignore sqlfluff/RF06 because time is a keyword in a column list
    tenant_id UUID,
    user_id UUID,
    deal_id UUID,
    event_type VARCHAR,
    event_data JSONB,
    value_impacted NUMERIC,
    duration_seconds INTEGER,
    ip_address INET,
    user_agent TEXT,
    session_id UUID
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant UUID := app.current_tenant_id();
BEGIN
    -- No tenant, no rows. The tenant is a variable, so PL/pgSQL's cached plan reads
    -- (tenant_id, time DESC) in index order and stops after max_rows, as a hand-written query would.
    RETURN QUERY
    SELECT a.time, a.tenant_id, a.user_id, a.deal_id, a.event_type, a.event_data, a.value_impacted,
           a.duration_seconds, a.ip_address, a.user_agent, a.session_id
    FROM timeline.activity_timeline AS a
    WHERE a.tenant_id = tenant AND a.time > since
    ORDER BY a.time DESC
    LIMIT max_rows;
END
$$;
COMMENT ON FUNCTION public.latest_activity(TIMESTAMPTZ, INTEGER) IS
    'The current tenant''s newest events since a time, newest first (index order, not a sort of the period)';
GRANT EXECUTE ON FUNCTION public.latest_activity(TIMESTAMPTZ, INTEGER) TO maplatform_app, maplatform_readonly;

-- The application's way into the summary, on both editions (sql/views/ keeps it up to date).
CREATE VIEW public.tenant_daily_activity_summary
WITH (security_barrier = TRUE)
AS
SELECT
    das.day,
    das.tenant_id,
    das.event_count,
    das.active_users,
    das.active_deals,
    das.total_value_impacted
FROM timeline.daily_activity_summary AS das
WHERE das.tenant_id = (SELECT app.verified_tenant());
REVOKE ALL ON public.tenant_daily_activity_summary FROM maplatform_app, maplatform_readonly;
GRANT SELECT ON public.tenant_daily_activity_summary TO maplatform_app, maplatform_readonly;
