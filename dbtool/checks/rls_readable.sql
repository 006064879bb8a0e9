-- Relations holding tenant rows, without row-level security, that a tenant-facing role may SELECT
-- (the whole relation or a column), in any schema: extension-managed ones included (TimescaleDB
-- chunks and compressed chunks copy the hypertable's grants but not its row-level security; a
-- materialized view or a continuous aggregate's materialization has none). With USAGE on the schema
-- the role reads the rows; without it, pg_stats still shows their statistics (most common values,
-- histograms), which needs only the SELECT privilege.
-- Parameters: %(column)s tenant column, %(tenant_table)s, %(roles)s tenant-facing role names.
SELECT c.oid::regclass::text AS relation,
       CASE c.relkind WHEN 'm' THEN 'materialized view' WHEN 'p' THEN 'table' WHEN 'f' THEN 'foreign table'
                      ELSE 'table' END AS kind,
       r.rolname AS role_name,
       has_schema_privilege(r.oid, c.relnamespace, 'USAGE') AS reachable
FROM pg_class c
CROSS JOIN pg_roles r
WHERE c.relkind IN ('r', 'p', 'm', 'f')
  AND r.rolname = ANY (%(roles)s)
  AND NOT r.rolbypassrls
  AND NOT c.relrowsecurity
  AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
  AND (c.oid = to_regclass(%(tenant_table)s)
       OR EXISTS (SELECT 1 FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attname = %(column)s AND NOT a.attisdropped))
  AND (has_table_privilege(r.oid, c.oid, 'SELECT') OR has_any_column_privilege(r.oid, c.oid, 'SELECT'))
ORDER BY 1, 3
