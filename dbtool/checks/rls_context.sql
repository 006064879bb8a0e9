-- The tenant-context relation (the registry the context function reads) must not be written by a
-- tenant-facing role (whoever writes it chooses the tenant), nor read without row-level security
-- (it lists every tenant's live tokens).
-- Parameters: %(context)s context relation (regclass text), %(roles)s tenant-facing role names.
SELECT c.oid::regclass::text AS relation, r.rolname AS role_name,
       c.relrowsecurity AS rls_enabled,
       has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') AS writable
FROM pg_class c
CROSS JOIN pg_roles r
WHERE c.oid = to_regclass(%(context)s) AND r.rolname = ANY (%(roles)s)
  AND (has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
       OR (NOT c.relrowsecurity AND has_table_privilege(r.oid, c.oid, 'SELECT')))
ORDER BY 2
