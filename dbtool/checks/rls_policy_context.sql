-- Policies of tenant tables that do not read the verified tenant context: their tenant comes from
-- something the tenant-facing role can set itself (a plain setting changed with set_config(), a
-- function argument), so SQL injected into the application acts as any tenant. A policy reads the
-- context when pg_depend records a dependency on the tenant-context relation.
-- Parameters: %(context)s tenant-context relation (regclass text), %(tables)s tenant tables (regclass text).
SELECT p.polrelid::regclass::text AS table_name, p.polname AS policy_name
FROM pg_policy p
WHERE p.polrelid = ANY (%(tables)s::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_policy'::regclass AND d.objid = p.oid
                    AND d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass(%(context)s))
ORDER BY 1, 2
