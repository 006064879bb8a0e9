-- Take from PUBLIC what extensions let every role run, and give the owner role the LOGIN its
-- background jobs need.
--
-- Why (docs/roles.md, docs/deviations.md):
--  * TimescaleDB's internal chunk functions check no privilege on PostgreSQL 15 releases:
--    `SELECT _timescaledb_functions.drop_chunk(<chunk oid>)` as the application role, or as a role
--    with no grant at all, dropped every tenant's timeline rows (measured on 2.19.3; upstream added
--    the checks in 2.29.1, commit cb614b37b, which no longer supports PostgreSQL 15), and
--    `CALL public.merge_chunks(<any table>, <any table>)` crashes the server of the Apache build
--    (signal 11, every session lost). Every VOLATILE routine of the extension is therefore revoked
--    from PUBLIC and granted to maplatform_owner, which owns the hypertable and runs its policies,
--    except the query functions time_bucket_gapfill, locf and interpolate (VOLATILE, but pure).
--    Trigger functions keep their grants: PostgreSQL does not check EXECUTE when they fire. The
--    continuous aggregates' invalidation logs (timestamps of every tenant's changed events) are
--    revoked from PUBLIC too.
--  * Other sessions: pg_stat_activity showed every session of the same login its statements,
--    literals and inlined tenant tokens included (a token read there could be replayed), and temporary
--    objects let one transaction on a pooled connection leave a temporary view in pg_temp, searched
--    first, that captured the next tenant's rows. The activity view and its functions are kept for
--    maplatform_ops and the owner; TEMPORARY on this database for the owner and the maintenance role
--    (REFRESH ... CONCURRENTLY needs it), not for PUBLIC.
--  * 0002 revoked the pg_stat_statements view, but the function behind it,
--    public.pg_stat_statements(boolean), stayed executable by PUBLIC: the application role read
--    every tenant's statement texts through it. Only maplatform_ops (ops.slow_queries) and the owner
--    keep it.
--  * pg_cron jobs and TimescaleDB policies run as a role that must be allowed to start a
--    background worker, i.e. have LOGIN. They used to run as whoever ran dbtool, often a superuser,
--    through functions an owner-level role can replace. maplatform_owner gets LOGIN CONNECTION
--    LIMIT 0: background workers ignore the connection limit, every client connection as the owner
--    is refused ("too many connections for role"). It needs no password and must not get one, and
--    it gets CONNECT on this database by name: pg_cron checks it before running a job, and a DBA who
--    revokes CONNECT from PUBLIC must not stop the jobs.
-- Extension objects belong to the role that created the extension, and ALTER ROLE needs CREATEROLE,
-- so this migration runs as a superuser; a REVOKE by anyone else only warns, so each step checks
-- its result and stops with the statement a superuser must run.
-- dbtool-lint: ignore owner-role because extension routines and role attributes are the superuser's to change
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
          AND p.proname NOT IN ('time_bucket_gapfill', 'locf', 'interpolate')
          AND (p.proacl IS NULL OR EXISTS (
              SELECT 1 FROM pg_catalog.aclexplode(p.proacl) AS a
              WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
    LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC', routine);
        EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE %s TO maplatform_owner', routine);
    END LOOP;
END
$$;

REVOKE SELECT ON _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log,
_timescaledb_catalog.continuous_aggs_materialization_invalidation_log FROM PUBLIC;

REVOKE EXECUTE ON FUNCTION public.pg_stat_statements(BOOLEAN), public.pg_stat_statements_info() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.pg_stat_statements(BOOLEAN), public.pg_stat_statements_info()
TO maplatform_ops, maplatform_owner;

REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(INTEGER),
pg_catalog.pg_stat_get_backend_activity(INTEGER) FROM PUBLIC;
GRANT SELECT ON pg_catalog.pg_stat_activity TO maplatform_ops, maplatform_owner;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(INTEGER),
pg_catalog.pg_stat_get_backend_activity(INTEGER) TO maplatform_ops, maplatform_owner;

DO $$
BEGIN
    EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', pg_catalog.current_database());
    EXECUTE pg_catalog.format('GRANT TEMPORARY ON DATABASE %I TO maplatform_owner, maplatform_maintenance',
                              pg_catalog.current_database());
END
$$;

DO $$
DECLARE
    still TEXT;
BEGIN
    SELECT pg_catalog.string_agg(x, ', ' ORDER BY x) INTO still
    FROM (
        SELECT p.oid::REGPROCEDURE::TEXT AS x
        FROM pg_catalog.pg_proc AS p
        INNER JOIN pg_catalog.pg_depend AS d
            ON d.classid = 'pg_catalog.pg_proc'::REGCLASS AND p.oid = d.objid AND d.deptype = 'e'
        INNER JOIN pg_catalog.pg_extension AS e ON d.refobjid = e.oid
        WHERE ((e.extname = 'timescaledb' AND p.provolatile = 'v'
                AND p.prorettype NOT IN ('pg_catalog.trigger'::REGTYPE, 'pg_catalog.event_trigger'::REGTYPE)
                AND p.proname NOT IN ('time_bucket_gapfill', 'locf', 'interpolate'))
               OR p.oid = 'public.pg_stat_statements(BOOLEAN)'::REGPROCEDURE)
          AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')
        UNION ALL
        SELECT 'pg_stat_activity' WHERE pg_catalog.has_table_privilege('public', 'pg_catalog.pg_stat_activity', 'SELECT')
        UNION ALL
        SELECT 'TEMPORARY on this database'
        WHERE pg_catalog.has_database_privilege('public', pg_catalog.current_database(), 'TEMPORARY')
    ) AS left_to_public;
    IF still IS NOT NULL THEN
        RAISE EXCEPTION 'PUBLIC can still use %', pg_catalog.left(still, 300)
            USING HINT = 'extension routines and pg_catalog belong to the superuser who created them: '
                         'run this migration as a superuser (docs/roles.md)';
    END IF;
END
$$;

DO $$
BEGIN
    IF NOT (SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = 'maplatform_owner') THEN
        BEGIN
            ALTER ROLE maplatform_owner LOGIN CONNECTION LIMIT 0;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'maplatform_owner must be able to start background jobs (LOGIN), and % may not alter it',
                session_user
                USING HINT = 'as a superuser: ALTER ROLE maplatform_owner LOGIN CONNECTION LIMIT 0; then migrate again';
        END;
    END IF;
    IF (SELECT rolconnlimit FROM pg_catalog.pg_roles WHERE rolname = 'maplatform_owner') <> 0 THEN
        RAISE EXCEPTION 'maplatform_owner can log in and accepts client connections (CONNECTION LIMIT is not 0)'
            USING HINT = 'as a superuser: ALTER ROLE maplatform_owner CONNECTION LIMIT 0 PASSWORD NULL (docs/roles.md)';
    END IF;
END
$$;

DO $$
BEGIN
    EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO maplatform_owner', pg_catalog.current_database());
END
$$;
