-- What one session of a tenant-facing role can learn from or leave for another: pg_stat_activity
-- shows every session of the same login its current statement (literals and inlined tenant tokens
-- included), and TEMPORARY on the database lets a transaction leave a temporary view or function in
-- pg_temp, which is searched first, for the next transaction of a pooled connection: a temporary
-- view named like a tenant table captured the next tenant's rows (tests/test_attacks.py).
-- Parameters: %(roles)s tenant-facing role names.
SELECT r.rolname AS role_name, 'statements of other sessions (pg_stat_activity)' AS what,
       'REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC' AS fix, 'rls-session-texts' AS rule
FROM pg_roles r
WHERE r.rolname = ANY (%(roles)s) AND has_table_privilege(r.oid, 'pg_catalog.pg_stat_activity', 'SELECT')
UNION ALL
SELECT r.rolname, 'temporary objects that outlive its transaction on a pooled connection (TEMPORARY)',
       format('REVOKE TEMPORARY ON DATABASE %%I FROM PUBLIC, %%I', current_database(), r.rolname), 'rls-temp-objects'
FROM pg_roles r
WHERE r.rolname = ANY (%(roles)s) AND has_database_privilege(r.oid, current_database(), 'TEMPORARY')
ORDER BY 1, 2
