-- Functions a tenant-facing role may execute that can act beyond its tenant: SECURITY DEFINER ones
-- (they run with their owner's rights; each must be reviewed), VOLATILE routines of an extension's
-- internal schemas (names starting with _: not API, and some check no privilege, e.g. TimescaleDB's
-- _timescaledb_functions.drop_chunk before 2.29.1) or of a guarded extension in any schema
-- (TimescaleDB's public merge_chunks crashes the server of 2.19's Apache build), pg_stat_statements(),
-- which returns every tenant's statement texts, and the functions behind pg_stat_activity, which
-- return other sessions' statements. Trigger functions are left out: PostgreSQL does not check
-- EXECUTE when a trigger fires.
-- Parameters: %(roles)s tenant-facing role names, %(guarded)s extension names, %(allowed)s names of
-- VOLATILE routines of those extensions that are pure query functions (time_bucket_gapfill, ...).
SELECT format('%%I.%%I(%%s)', n.nspname, p.proname, oidvectortypes(p.proargtypes)) AS function_name,
       array_to_string(array_agg(r.rolname ORDER BY r.rolname), ', ') AS roles,
       CASE
           WHEN e.extname = 'pg_stat_statements' AND p.proname = 'pg_stat_statements' THEN 'statement_texts'
           WHEN p.oid IN ('pg_catalog.pg_stat_get_activity(integer)'::regprocedure,
                          'pg_catalog.pg_stat_get_backend_activity(integer)'::regprocedure) THEN 'session_texts'
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
       OR p.oid IN ('pg_catalog.pg_stat_get_activity(integer)'::regprocedure,
                    'pg_catalog.pg_stat_get_backend_activity(integer)'::regprocedure)
       OR (e.oid IS NOT NULL AND p.provolatile = 'v' AND p.proname <> ALL (%(allowed)s)
           AND (n.nspname LIKE '\_%%' OR e.extname = ANY (%(guarded)s))))
  AND has_function_privilege(r.oid, p.oid, 'EXECUTE')
GROUP BY p.oid, n.nspname, p.proname, p.proargtypes, p.prosecdef, p.proowner, e.extname
ORDER BY 3, 1
