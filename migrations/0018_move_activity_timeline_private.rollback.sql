-- Undoes 0018_move_activity_timeline_private: statements run top to bottom, newest change first.
-- On the community edition every compressed chunk is decompressed first (row-level security
-- cannot be enabled on a hypertable with compression), which takes as long as the data is large,
-- and the continuous aggregate goes back to the materialized view of 0009, refreshed once here.
-- The hypertable returns to public with forced row-level security but no policy, and
-- tenant_daily_activity_summary is dropped: since 0018 neither is in sql/, so a database migrated to
-- 0017 from scratch has neither either. The application sees no events (closed, not open) until the
-- database is migrated forward again.
SET LOCAL ROLE maplatform_owner;

DROP VIEW IF EXISTS public.tenant_daily_activity_summary;
DROP FUNCTION public.latest_activity(TIMESTAMPTZ, INTEGER);
DROP VIEW public.activity_timeline;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM timescaledb_information.continuous_aggregates
                   WHERE view_schema = 'timeline' AND view_name = 'daily_activity_summary') THEN
        RETURN;  -- the Apache edition's shape: nothing to undo here
    END IF;
    PERFORM public.remove_compression_policy('timeline.activity_timeline', if_exists => TRUE);
    PERFORM public.remove_retention_policy('timeline.activity_timeline', if_exists => TRUE);
    PERFORM public.decompress_chunk(c, if_compressed => TRUE)
    FROM public.show_chunks('timeline.activity_timeline') AS c;
    ALTER TABLE timeline.activity_timeline SET (timescaledb.compress = FALSE);
    DROP MATERIALIZED VIEW timeline.daily_activity_summary;  -- and its refresh policy
    CREATE MATERIALIZED VIEW timeline.daily_activity_summary AS
    SELECT
        public.time_bucket('1 day', time) AS day,
        tenant_id,
        count(*) AS event_count,
        count(DISTINCT user_id) AS active_users,
        count(DISTINCT deal_id) AS active_deals,
        sum(value_impacted) AS total_value_impacted
    FROM timeline.activity_timeline
    GROUP BY day, tenant_id;
    CREATE UNIQUE INDEX daily_activity_summary_tenant_id_day_key ON timeline.daily_activity_summary (tenant_id, day);
    REVOKE ALL ON timeline.daily_activity_summary FROM maplatform_app, maplatform_readonly;
    ALTER MATERIALIZED VIEW timeline.daily_activity_summary OWNER TO maplatform_maintenance;
    -- Bodies below, replaced right after this block on both editions.
    CREATE FUNCTION ops.drop_expired_activity_timeline() RETURNS INTEGER LANGUAGE sql
    SET search_path = pg_catalog, pg_temp AS 'SELECT 0';
    CREATE FUNCTION ops.refresh_daily_activity_summary() RETURNS VOID LANGUAGE sql
    SET search_path = pg_catalog, pg_temp AS 'SELECT NULL::VOID';
    ALTER FUNCTION ops.refresh_daily_activity_summary() OWNER TO maplatform_maintenance;
    INSERT INTO ops.cron_jobs (jobname, schedule, command) VALUES
    ('refresh_daily_activity_summary', '5 * * * *', 'SELECT ops.refresh_daily_activity_summary()'),
    ('activity_timeline_retention', '30 1 * * *', 'SELECT ops.drop_expired_activity_timeline()');
END
$$;

CREATE OR REPLACE FUNCTION ops.refresh_daily_activity_summary()
RETURNS VOID
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    REFRESH MATERIALIZED VIEW CONCURRENTLY public.daily_activity_summary;
END
$$;

CREATE OR REPLACE FUNCTION ops.drop_expired_activity_timeline()
RETURNS INTEGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped INTEGER;
BEGIN
    -- Runs as the hypertable's owner: drop_chunks needs ownership, row-level security is not involved.
    SELECT count(*) INTO dropped
    FROM public.drop_chunks('public.activity_timeline', older_than => INTERVAL '1 year');
    RETURN dropped;
END
$$;

-- As 0009 described them (the community edition's block above created them without).
COMMENT ON FUNCTION ops.drop_expired_activity_timeline() IS
    'Retention of activity_timeline on the Apache edition: drops chunks older than a year; returns how many';
COMMENT ON FUNCTION ops.refresh_daily_activity_summary() IS
    'Refreshes daily_activity_summary for every tenant (runs as maplatform_maintenance)';

ALTER MATERIALIZED VIEW timeline.daily_activity_summary SET SCHEMA public;
CREATE INDEX activity_timeline_time_idx ON timeline.activity_timeline (time DESC);
ALTER TABLE timeline.activity_timeline SET SCHEMA public;
-- In the order 0009 granted them, so the table's ACL reads as it did.
REVOKE SELECT ON public.activity_timeline FROM maplatform_maintenance;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.activity_timeline TO maplatform_app;
GRANT SELECT ON public.activity_timeline TO maplatform_readonly;
GRANT SELECT ON public.activity_timeline TO maplatform_maintenance;
ALTER TABLE public.activity_timeline ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;

DROP SCHEMA timeline;
