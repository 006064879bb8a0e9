-- Undoes 0012_schedule_maintenance_jobs: statements run top to bottom, newest change first.
-- dbtool unschedules the jobs from pg_cron once their rows are gone.
SET LOCAL ROLE maplatform_owner;

DELETE FROM ops.cron_jobs
WHERE jobname IN ('refresh_pipeline_analytics', 'vacuum_analyze', 'update_statistics', 'cleanup_sessions',
                  'archive_activities');
DROP FUNCTION ops.archive_activities();
DROP FUNCTION ops.cleanup_sessions();
REVOKE SELECT, INSERT ON public.activities_archive FROM maplatform_maintenance;
REVOKE SELECT, DELETE ON public.activities FROM maplatform_maintenance;
REVOKE SELECT, DELETE ON public.user_sessions FROM maplatform_maintenance;
