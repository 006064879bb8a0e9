-- The project's private schemas (tables with tenant data but no row-level security, reached through
-- views): PUBLIC with USAGE there is always reported; a tenant-facing role with USAGE is reported when
-- it reaches something there that row-level security does not guard: a relation without it on which
-- the role holds a privilege (a view, a partition or chunk, a table), a sequence, or a function it may
-- execute. A schema opened on purpose, where the role reaches only tables under row-level security
-- (on a Citus coordinator, 0040 gives the tenant-facing roles the timeline and audit trail under their
-- policies, since Citus reads a view's tables as the current role), is not reported.
-- Parameters: %(private)s schema names, %(roles)s tenant-facing role names.
SELECT n.nspname AS schema_name, coalesce(r.rolname, 'PUBLIC') AS role_name
FROM pg_namespace n
LEFT JOIN pg_roles r
       ON r.rolname = ANY (%(roles)s) AND has_schema_privilege(r.oid, n.oid, 'USAGE')
      AND (EXISTS (SELECT 1 FROM pg_class c
                   WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relrowsecurity
                     AND (has_any_column_privilege(r.oid, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
                          OR has_table_privilege(r.oid, c.oid, 'DELETE, TRUNCATE, TRIGGER')))
           OR EXISTS (SELECT 1 FROM pg_class s
                      WHERE s.relnamespace = n.oid
                        AND CASE WHEN s.relkind = 'S'  -- evaluated on this kind alone: it errors on others
                                 THEN has_sequence_privilege(r.oid, s.oid, 'USAGE, SELECT, UPDATE') END)
           OR EXISTS (SELECT 1 FROM pg_proc p
                      WHERE p.pronamespace = n.oid AND has_function_privilege(r.oid, p.oid, 'EXECUTE')))
WHERE n.nspname = ANY (%(private)s)
  AND (r.oid IS NOT NULL
       OR EXISTS (SELECT 1 FROM aclexplode(n.nspacl) x WHERE x.grantee = 0 AND x.privilege_type = 'USAGE'))
ORDER BY 1, 2
