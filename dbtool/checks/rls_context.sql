-- The tenant-context relation (what policies read the verified tenant from) must have row-level
-- security enabled (a role sees only its own token's row) and no tenant-facing role may write it:
-- whoever writes it chooses the tenant.
-- Parameters: %(context)s context relation (regclass text), %(roles)s tenant-facing role names.
SELECT c.oid::regclass::text AS relation, r.rolname AS role_name,
       c.relrowsecurity AS rls_enabled,
       has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS writable
FROM pg_class c
CROSS JOIN pg_roles r
WHERE c.oid = to_regclass(%(context)s) AND r.rolname = ANY (%(roles)s)
  AND (NOT c.relrowsecurity OR has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))
ORDER BY 2
