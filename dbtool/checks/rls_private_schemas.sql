-- The project's private schemas (tables with tenant data but no row-level security, reached through
-- views): a tenant-facing role or PUBLIC with USAGE there could read them wherever it has a grant.
-- Parameters: %(private)s schema names, %(roles)s tenant-facing role names.
SELECT n.nspname AS schema_name, coalesce(r.rolname, 'PUBLIC') AS role_name
FROM pg_namespace n
LEFT JOIN pg_roles r ON r.rolname = ANY (%(roles)s) AND has_schema_privilege(r.oid, n.oid, 'USAGE')
WHERE n.nspname = ANY (%(private)s)
  AND (r.oid IS NOT NULL
       OR EXISTS (SELECT 1 FROM aclexplode(n.nspacl) x WHERE x.grantee = 0 AND x.privilege_type = 'USAGE'))
ORDER BY 1, 2
