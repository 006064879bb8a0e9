-- Functions a tenant-facing role may execute that can act beyond its tenant: SECURITY DEFINER ones
-- (they run with their owner's rights; each must be reviewed), VOLATILE routines of an extension's
-- internal schemas (names starting with _: not API, and some check no privilege, e.g. TimescaleDB's
-- _timescaledb_functions.drop_chunk before 2.29.1), and pg_stat_statements(), which returns every
-- tenant's statement texts. Trigger functions are left out: PostgreSQL does not check EXECUTE when
-- a trigger fires.
-- Parameters: %(roles)s tenant-facing role names.
SELECT format('%%I.%%I(%%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)) AS function_name,
       array_to_string(array_agg(r.rolname ORDER BY r.rolname), ', ') AS roles,
       CASE
           WHEN e.extname = 'pg_stat_statements' AND p.proname = 'pg_stat_statements' THEN 'statement_texts'
           WHEN p.prosecdef THEN 'definer'
           ELSE 'extension_internal'
       END AS kind,
       pg_get_userbyid(p.proowner) AS owner,
       e.extname AS extension
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
LEFT JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
LEFT JOIN pg_extension e ON e.oid = d.refobjid
CROSS JOIN pg_roles r
WHERE r.rolname = ANY (%(roles)s)
  AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
  AND (p.prosecdef
       OR (e.extname = 'pg_stat_statements' AND p.proname = 'pg_stat_statements')
       OR (e.oid IS NOT NULL AND n.nspname LIKE '\_%%' AND p.provolatile = 'v'))
  AND has_function_privilege(r.oid, p.oid, 'EXECUTE')
GROUP BY n.nspname, p.proname, p.proargtypes, p.prosecdef, p.proowner, e.extname
ORDER BY 3, 1
