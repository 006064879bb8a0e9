-- Policies of tenant tables that do not read the verified tenant context: their tenant comes from
-- something the tenant-facing role can set itself (a plain setting changed with set_config(), a
-- function argument), so SQL injected into the application acts as any tenant. A policy reads the
-- context when pg_depend records a dependency on the context function or relation.
-- Parameters: %(context)s context relation (regclass text or NULL), %(function)s context function
-- (regprocedure text or NULL), %(tables)s tenant tables (regclass text).
SELECT p.polrelid::regclass::text AS table_name, p.polname AS policy_name
FROM pg_policy p
WHERE p.polrelid = ANY (%(tables)s::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_policy'::regclass AND d.objid = p.oid
                    AND ((d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass(%(context)s))
                         OR (d.refclassid = 'pg_proc'::regclass AND d.refobjid = to_regprocedure(%(function)s))))
ORDER BY 1, 2
