-- Materialized views ignore row-level security: one with a tenant column that a tenant-facing
-- role (or PUBLIC) can read shows every tenant's rows.
-- Parameters: %(column)s tenant column name, %(roles)s tenant-facing role names.
SELECT c.oid::regclass::text AS view_name, r.role_name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = %(column)s AND NOT a.attisdropped
CROSS JOIN LATERAL (
    SELECT 'PUBLIC' AS role_name
    WHERE EXISTS (SELECT 1 FROM aclexplode(c.relacl) x WHERE x.grantee = 0 AND x.privilege_type = 'SELECT')
    UNION ALL
    SELECT rolname FROM pg_roles
    WHERE rolname = ANY (%(roles)s) AND has_table_privilege(oid, c.oid, 'SELECT') AND NOT rolbypassrls
) r
WHERE c.relkind = 'm'
  AND n.nspname !~ '^(pg_|_timescaledb|timescaledb_)'
ORDER BY 1, 2
