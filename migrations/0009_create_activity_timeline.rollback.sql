-- Undoes 0009_create_activity_timeline: statements run top to bottom, newest change first.
-- The repeatable view on daily_activity_summary (tenant_daily_activity_summary) goes first.
SET LOCAL ROLE maplatform_owner;

DROP VIEW IF EXISTS public.tenant_daily_activity_summary;

DELETE FROM ops.cron_jobs
WHERE jobname IN ('activity_timeline_retention', 'refresh_daily_activity_summary');
DROP FUNCTION ops.refresh_daily_activity_summary();
DROP MATERIALIZED VIEW public.daily_activity_summary;
DROP FUNCTION ops.drop_expired_activity_timeline();

RESET ROLE;
DO $$
BEGIN
    IF current_setting('timescaledb.license', TRUE) = 'timescale' THEN
        PERFORM public.remove_retention_policy('public.activity_timeline', if_exists => TRUE);
    END IF;
END
$$;
SET LOCAL ROLE maplatform_owner;

DROP TABLE public.activity_timeline;
DROP SCHEMA timeline_chunks;
