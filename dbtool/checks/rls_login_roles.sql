-- Roles that accept client connections although they need not: a role that bypasses row-level
-- security, or that owns a table with tenant data (it can disable the policies), should never be
-- a login. LOGIN with CONNECTION LIMIT 0 is the deliberate exception: background workers (pg_cron
-- with cron.use_background_workers, TimescaleDB's jobs) start as such a role, clients cannot.
-- Parameters: %(column)s tenant column.
SELECT r.rolname AS role_name,
       CASE WHEN r.rolbypassrls THEN 'bypasses row-level security'
            ELSE 'owns tables with tenant data' END AS why,
       r.rolconnlimit AS connection_limit
FROM pg_roles r
WHERE r.rolcanlogin AND r.rolconnlimit <> 0 AND NOT r.rolsuper
  AND (r.rolbypassrls
       OR EXISTS (SELECT 1 FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
                  WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p') AND a.attname = %(column)s
                    AND NOT a.attisdropped))
ORDER BY 1
