-- Views with a tenant column that a tenant-facing role may read, and what makes each one unsafe.
-- A view reads its relations with its owner's rights: over a relation without row-level security
-- (a private table, a materialized view, a continuous aggregate) it must filter on the verified
-- tenant itself, i.e. depend on the tenant-context relation, and be security_barrier so that a
-- caller's own leaky condition cannot see rows before that filter; over a table with row-level
-- security, an owner who bypasses it (superuser, BYPASSRLS) shows every tenant.
-- Parameters: %(column)s, %(roles)s, %(context)s tenant-context relation (regclass text, or NULL),
-- %(function)s tenant-context function (regprocedure text, or NULL).
WITH views AS (
    SELECT c.oid, c.relowner,
           coalesce(c.reloptions @> ARRAY['security_barrier=true'], false) AS barrier,
           array_agg(DISTINCT r.rolname) AS roles
    FROM pg_class c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = %(column)s AND NOT a.attisdropped
    CROSS JOIN pg_roles r
    WHERE c.relkind = 'v' AND r.rolname = ANY (%(roles)s)
      AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
      AND has_table_privilege(r.oid, c.oid, 'SELECT')
    GROUP BY c.oid, c.relowner, c.reloptions
),
reads AS (
    SELECT DISTINCT v.oid AS view_oid, d.refobjid AS rel
    FROM views v
    JOIN pg_rewrite w ON w.ev_class = v.oid
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid AND d.refclassid = 'pg_class'::regclass
    WHERE d.refobjid <> v.oid
),
calls AS (
    SELECT DISTINCT v.oid AS view_oid
    FROM views v
    JOIN pg_rewrite w ON w.ev_class = v.oid
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid AND d.refclassid = 'pg_proc'::regclass
    WHERE d.refobjid = to_regprocedure(%(function)s)
)
SELECT v.oid::regclass::text AS view_name,
       array_to_string(v.roles, ', ') AS roles,
       v.barrier,
       (EXISTS (SELECT 1 FROM reads x WHERE x.view_oid = v.oid AND x.rel = to_regclass(%(context)s))
        OR EXISTS (SELECT 1 FROM calls x WHERE x.view_oid = v.oid)) AS filters,
       EXISTS (SELECT 1 FROM reads x JOIN pg_class s ON s.oid = x.rel
               WHERE x.view_oid = v.oid AND NOT s.relrowsecurity AND s.oid <> coalesce(to_regclass(%(context)s), 0)
                 AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = s.oid AND a.attname = %(column)s
                             AND NOT a.attisdropped)) AS over_unprotected,
       EXISTS (SELECT 1 FROM reads x JOIN pg_class s ON s.oid = x.rel
               WHERE x.view_oid = v.oid AND s.relrowsecurity) AS over_rls,
       o.rolname AS owner,
       (o.rolsuper OR o.rolbypassrls) AS owner_bypasses
FROM views v
JOIN pg_roles o ON o.oid = v.relowner
ORDER BY 1
