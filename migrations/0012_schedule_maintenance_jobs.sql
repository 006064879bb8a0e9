-- Declare the document's pg_cron jobs and the maintenance functions they call.
--
-- Why: analytics must be refreshed, sessions expire, activity rows age out. Migrations never call
-- cron.schedule: they declare jobs in ops.cron_jobs, and dbtool schedules them in the cron
-- database (cron.database_name, which may be another database) after every migrate and rollback.
-- Jobs run as the role that ran dbtool. Under forced row-level security that role may see no
-- tenant rows at all, so a job that must touch every tenant calls a SECURITY DEFINER function
-- owned by maplatform_maintenance (BYPASSRLS) instead of running the DELETE itself.
-- pg_cron sends a job's command as one query string, which PostgreSQL runs as one implicit
-- transaction; VACUUM refuses to run inside one, so the document's three VACUUM statements are one
-- VACUUM over three tables. archive_activities moves rows with one DELETE ... RETURNING feeding the
-- INSERT, so a row cannot be deleted without being archived (two statements would each see
-- different rows under READ COMMITTED).
SET LOCAL ROLE maplatform_owner;

GRANT SELECT, DELETE ON public.user_sessions TO maplatform_maintenance;
GRANT SELECT, DELETE ON public.activities TO maplatform_maintenance;
GRANT SELECT, INSERT ON public.activities_archive TO maplatform_maintenance;

CREATE FUNCTION ops.cleanup_sessions()
RETURNS INTEGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed INTEGER;
BEGIN
    DELETE FROM public.user_sessions WHERE expires_at < now();
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
ALTER FUNCTION ops.cleanup_sessions() OWNER TO maplatform_maintenance;
COMMENT ON FUNCTION ops.cleanup_sessions() IS 'Deletes expired sessions of every tenant; returns how many';

CREATE FUNCTION ops.archive_activities()
RETURNS INTEGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    moved INTEGER;
BEGIN
    WITH expired AS (
        DELETE FROM public.activities
        WHERE occurred_at < now() - INTERVAL '1 year'
        RETURNING id, tenant_id, deal_id, user_id, type, title, description, occurred_at, duration,
                  metadata, attachments, created_at, created_by
    )
    INSERT INTO public.activities_archive (id, tenant_id, deal_id, user_id, type, title, description,
                                           occurred_at, duration, metadata, attachments, created_at, created_by)
    SELECT id, tenant_id, deal_id, user_id, type, title, description, occurred_at, duration,
           metadata, attachments, created_at, created_by
    FROM expired;
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN moved;
END
$$;
ALTER FUNCTION ops.archive_activities() OWNER TO maplatform_maintenance;
COMMENT ON FUNCTION ops.archive_activities() IS
    'Moves activities older than a year, of every tenant, to activities_archive; returns how many';

INSERT INTO ops.cron_jobs (jobname, schedule, command) VALUES
('refresh_pipeline_analytics', '*/15 * * * *', 'SELECT ops.refresh_pipeline_analytics()'),
('vacuum_analyze', '0 3 * * *', 'VACUUM (ANALYZE) public.deals, public.activities, public.documents'),
('update_statistics', '0 4 * * *', 'ANALYZE'),
('cleanup_sessions', '0 * * * *', 'SELECT ops.cleanup_sessions()'),
('archive_activities', '0 2 * * 0', 'SELECT ops.archive_activities()');
