-- Row-level security policies: command, permissive or restrictive, roles, USING and WITH CHECK.
-- Policies on an extension's tables are the extension's (pg_cron's on cron.job and
-- cron.job_run_details, in the cron database): CREATE POLICY records no extension membership of
-- its own, so they are left out through their table.
SELECT n.nspname || '.' || c.relname || '.' || p.polname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                    WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
           'permissive', p.polpermissive,
           'roles', (SELECT to_jsonb(array_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END))
                     FROM unnest(p.polroles) AS r),
           'using', pg_get_expr(p.polqual, p.polrelid),
           'with_check', pg_get_expr(p.polwithcheck, p.polrelid),
           'comment', obj_description(p.oid, 'pg_policy'))) AS attrs
FROM pg_policy AS p
JOIN pg_class AS c ON c.oid = p.polrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT c.oid = ANY (%(chunks)s)  -- TimescaleDB chunks, wherever their schema
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
