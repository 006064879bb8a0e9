-- pg_stat_statements shows every statement's text, of every tenant; the extension grants SELECT
-- on its views to PUBLIC. A tenant-facing role able to read them reads other tenants' queries.
-- Parameters: %(roles)s tenant-facing role names.
SELECT c.oid::regclass::text AS view_name, r.rolname AS role_name
FROM pg_class c
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_stat_statements'
CROSS JOIN pg_roles r
WHERE c.relkind = 'v'
  AND r.rolname = ANY (%(roles)s)
  AND has_table_privilege(r.oid, c.oid, 'SELECT')
ORDER BY 1, 2
