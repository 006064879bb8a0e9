-- Installed extensions and their versions. pg_cron is left out: it can only exist in the cron
-- database, so whether it is installed here says where cron.database_name points, not what the
-- migrations built; its jobs are compared as kind cron_job instead. Citus (citus, citus_columnar) is
-- left out too: the DBA creates it on every node of a Citus cluster before migrating, it is the
-- server's make-up (doctor reports it), and the same migrations build the schema without it.
SELECT e.extname AS name,
       jsonb_build_object('version', e.extversion, 'schema', n.nspname) AS attrs
FROM pg_extension AS e
JOIN pg_namespace AS n ON n.oid = e.extnamespace
WHERE e.extname <> ALL (ARRAY['pg_cron', 'citus', 'citus_columnar'])
