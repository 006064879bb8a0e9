-- Undoes 0016_restrict_extension_internals: statements run top to bottom, newest change first.
-- maplatform_owner keeps LOGIN CONNECTION LIMIT 0: roles are cluster-wide, another database of the
-- cluster may run its jobs as the owner, and the attribute lets no client in.
-- dbtool-lint: ignore owner-role because extension routines and database grants are the superuser's to change
DO $$
BEGIN
    EXECUTE pg_catalog.format('REVOKE CONNECT ON DATABASE %I FROM maplatform_owner', pg_catalog.current_database());
END
$$;

DO $$
BEGIN
    RAISE NOTICE 'maplatform_owner keeps LOGIN CONNECTION LIMIT 0 (cluster-wide; no client can connect as it)';
END
$$;

DO $$
BEGIN
    EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM maplatform_owner, maplatform_maintenance',
                              pg_catalog.current_database());
    EXECUTE pg_catalog.format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', pg_catalog.current_database());
END
$$;

REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(INTEGER),
pg_catalog.pg_stat_get_backend_activity(INTEGER) FROM maplatform_ops, maplatform_owner;
REVOKE SELECT ON pg_catalog.pg_stat_activity FROM maplatform_ops, maplatform_owner;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(INTEGER),
pg_catalog.pg_stat_get_backend_activity(INTEGER) TO PUBLIC;
GRANT SELECT ON pg_catalog.pg_stat_activity TO PUBLIC;

REVOKE EXECUTE ON FUNCTION public.pg_stat_statements(BOOLEAN), public.pg_stat_statements_info()
FROM maplatform_ops, maplatform_owner;
GRANT EXECUTE ON FUNCTION public.pg_stat_statements(BOOLEAN), public.pg_stat_statements_info() TO PUBLIC;

GRANT SELECT ON _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log,
_timescaledb_catalog.continuous_aggs_materialization_invalidation_log TO PUBLIC;

DO $$
DECLARE
    routine REGPROCEDURE;
BEGIN
    FOR routine IN
        SELECT p.oid::REGPROCEDURE
        FROM pg_catalog.pg_proc AS p
        INNER JOIN pg_catalog.pg_namespace AS n ON p.pronamespace = n.oid
        INNER JOIN pg_catalog.pg_depend AS d
            ON d.classid = 'pg_catalog.pg_proc'::REGCLASS AND p.oid = d.objid AND d.deptype = 'e'
        INNER JOIN pg_catalog.pg_extension AS e ON d.refobjid = e.oid
        WHERE e.extname = 'timescaledb'
          AND p.provolatile = 'v'
          AND p.prorettype NOT IN ('pg_catalog.trigger'::REGTYPE, 'pg_catalog.event_trigger'::REGTYPE)
          AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(p.proacl) AS a
                      WHERE a.grantee = 'maplatform_owner'::REGROLE AND a.privilege_type = 'EXECUTE')
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON ROUTINE %s FROM maplatform_owner', routine);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE %s TO PUBLIC', routine);
    END LOOP;
END
$$;
