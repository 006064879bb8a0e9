-- Tables that hold tenant data, with their row-level security state and the commands that
-- permissive policies applying to the tenant-facing roles (or PUBLIC) cover. A table holds tenant
-- data when it has the tenant column, is the tenant table, or references (through foreign keys,
-- at any depth) a table that does. Left out: extension schemas and the project's declared private
-- schemas (their tables are reached through views; rls_private_schemas.sql checks that nobody can
-- use them), and a child of a table with row-level security (a TimescaleDB chunk, an inheritance
-- child) that no tenant-facing role can reach directly (through the parent its policies apply).
-- The tenant-context relation itself is left out too (rls_context.sql checks it).
-- Parameters: %(column)s tenant column, %(tenant_table)s tenant table (regclass text),
-- %(roles)s tenant-facing role names, %(private)s private schema names, %(context)s context relation.
WITH RECURSIVE facing AS (
    SELECT oid FROM pg_roles WHERE rolname = ANY (%(roles)s)
),
app_tables AS (
    SELECT c.oid, c.relrowsecurity, c.relforcerowsecurity
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dbtool', 'cron')
      AND n.nspname <> ALL (%(private)s)
      AND c.oid IS DISTINCT FROM to_regclass(%(context)s)
      AND n.nspname !~ '^(pg_|_timescaledb|timescaledb_)'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      AND NOT (
          EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class parent ON parent.oid = i.inhparent
                  WHERE i.inhrelid = c.oid AND parent.relrowsecurity)
          AND NOT EXISTS (SELECT 1 FROM facing f
                          WHERE has_schema_privilege(f.oid, c.relnamespace, 'USAGE')
                            AND has_table_privilege(f.oid, c.oid, 'SELECT, INSERT, UPDATE, DELETE'))
      )
),
tenant_tables (oid, via) AS (
    SELECT t.oid, format('has column %%I', %(column)s)
    FROM app_tables t
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = %(column)s AND NOT a.attisdropped
    UNION
    SELECT t.oid, 'is the tenant table'
    FROM app_tables t WHERE t.oid = to_regclass(%(tenant_table)s)
    UNION
    SELECT con.conrelid, format('references %%s', con.confrelid::regclass)
    FROM pg_constraint con
    JOIN tenant_tables tt ON tt.oid = con.confrelid
    WHERE con.contype = 'f' AND con.conrelid IN (SELECT oid FROM app_tables) AND con.conrelid <> con.confrelid
)
SELECT t.oid::regclass::text AS table_name,
       min(tt.via) AS via,
       t.relrowsecurity AS rls_enabled,
       t.relforcerowsecurity AS rls_forced,
       coalesce(array_agg(DISTINCT p.polcmd::text) FILTER (
           WHERE p.polpermissive
             AND (0 = ANY (p.polroles) OR p.polroles && ARRAY(SELECT oid FROM facing))), '{}') AS commands
FROM (SELECT DISTINCT ON (oid) oid, via FROM tenant_tables ORDER BY oid, via) tt
JOIN app_tables t ON t.oid = tt.oid
LEFT JOIN pg_policy p ON p.polrelid = t.oid
GROUP BY t.oid, t.relrowsecurity, t.relforcerowsecurity
ORDER BY 1
