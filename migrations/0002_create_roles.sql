-- Create the cluster-wide roles that own and use the schema, and let the owner build in this database.
--
-- Why: tenant isolation rests on who runs a query, not only on policies. The application connects
-- as maplatform_app (NOBYPASSRLS, owns nothing), so forced row-level security always applies to
-- it; the schema belongs to maplatform_owner; maplatform_maintenance is the one role that bypasses
-- row-level security, for refreshes and jobs that must see every tenant (docs/roles.md).
-- Roles are cluster-wide and several databases of one cluster may share them, so a role is
-- created only when missing, and an existing role is checked, never altered: if someone gave the
-- application role BYPASSRLS, the migration stops instead of building an isolation it would void.
-- Creating a BYPASSRLS role needs a superuser (or a DBA who created the roles beforehand).
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT v.name, v.attributes
        FROM (VALUES
            ('maplatform_owner', 'NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'),
            ('maplatform_app', 'NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'),
            ('maplatform_readonly', 'NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'),
            ('maplatform_ops', 'NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE'),
            ('maplatform_maintenance', 'NOLOGIN NOSUPERUSER BYPASSRLS NOCREATEDB NOCREATEROLE')
        ) AS v (name, attributes)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.name) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I %s', r.name, r.attributes);
            EXCEPTION WHEN duplicate_object THEN
                NULL;  -- another database's migration created it a moment ago
            END;
        END IF;
    END LOOP;
END
$$;

-- An existing role with the wrong attributes would silently defeat row-level security.
DO $$
DECLARE
    bad text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s)', rolname,
               CASE WHEN rolsuper THEN 'SUPERUSER' WHEN rolbypassrls THEN 'BYPASSRLS' ELSE 'NOBYPASSRLS' END), ', ')
    INTO bad
    FROM pg_catalog.pg_roles
    WHERE (rolname IN ('maplatform_owner', 'maplatform_app', 'maplatform_readonly', 'maplatform_ops')
           AND (rolsuper OR rolbypassrls))
       OR (rolname = 'maplatform_maintenance' AND (rolsuper OR NOT rolbypassrls));
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'roles exist with attributes that break tenant isolation: %', bad
            USING HINT = 'as a superuser: ALTER ROLE <role> NOSUPERUSER NOBYPASSRLS '
                         || '(maplatform_maintenance: BYPASSRLS); see docs/roles.md';
    END IF;
    IF NOT pg_catalog.pg_has_role(session_user, 'maplatform_owner', 'MEMBER') THEN
        RAISE EXCEPTION 'role % must be a member of maplatform_owner to run the migrations', session_user
            USING HINT = pg_catalog.format(
                'as a superuser: GRANT maplatform_owner TO %I; GRANT maplatform_maintenance TO %I',
                session_user, session_user
            );
    END IF;
END
$$;

-- The owner hands materialized views and maintenance functions to maplatform_maintenance
-- (ALTER ... OWNER TO needs membership); a migrator who is a member of the owner can then also
-- SET ROLE maplatform_maintenance for a data migration that must touch every tenant.
GRANT maplatform_maintenance TO maplatform_owner;

-- slow_queries shows every statement's text only to members of pg_read_all_stats.
GRANT pg_read_all_stats TO maplatform_ops;

-- The owner creates the app and ops schemas (CREATE on the database) and the tables in public.
DO $$
BEGIN
    EXECUTE pg_catalog.format('GRANT CREATE ON DATABASE %I TO maplatform_owner', pg_catalog.current_database());
END
$$;
GRANT USAGE, CREATE ON SCHEMA public TO maplatform_owner;
-- A role must be able to create in a schema to be given ownership of an object in it: the
-- materialized views in public belong to maplatform_maintenance.
GRANT USAGE, CREATE ON SCHEMA public TO maplatform_maintenance;

-- pg_stat_statements grants SELECT to PUBLIC, so every role, the application's included, could read
-- the statement texts of every tenant. Only the owner of the view ops.slow_queries keeps it;
-- maplatform_ops reads that view (and, as a member of pg_read_all_stats, sees every text).
REVOKE ALL ON public.pg_stat_statements, public.pg_stat_statements_info FROM PUBLIC;
GRANT SELECT ON public.pg_stat_statements TO maplatform_owner;
