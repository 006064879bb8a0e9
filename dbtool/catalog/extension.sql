-- Installed extensions and their versions. pg_cron is left out: it can only exist in the cron
-- database, so whether it is installed here says where cron.database_name points, not what the
-- migrations built; its jobs are compared as kind cron_job instead.
SELECT e.extname AS name,
       jsonb_build_object('version', e.extversion, 'schema', n.nspname) AS attrs
FROM pg_extension AS e
JOIN pg_namespace AS n ON n.oid = e.extnamespace
WHERE e.extname <> 'pg_cron'
