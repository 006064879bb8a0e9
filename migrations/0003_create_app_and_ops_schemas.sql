-- Create the app and ops schemas, the tenant-context functions, the shared trigger functions, the
-- cron job declarations table, and the default privileges every later object follows.
--
-- Why: row-level security policies, column defaults and triggers of the later migrations call
-- these functions, so they must exist at migration time (a repeatable file would come too late).
-- The tenant context fails closed: app.current_tenant_id() is NULL when no tenant is set, which
-- matches no row, and raises a clear error for a malformed value instead of guessing.
-- set_tenant_context() is transaction-local so a pooler in transaction mode cannot carry one
-- client's tenant into another's; set_tenant_context_for_session() is the explicit session-wide one.
-- Default privileges: the application role gets DML on new tables in public (still under RLS),
-- the read-only role SELECT, the operations role SELECT in ops, and nobody gets EXECUTE on a new
-- function unless it is granted by name.
SET LOCAL ROLE maplatform_owner;

CREATE SCHEMA app AUTHORIZATION maplatform_owner;
COMMENT ON SCHEMA app IS 'Tenant-context and integrity helpers used by policies, defaults and triggers';

CREATE SCHEMA ops AUTHORIZATION maplatform_owner;
COMMENT ON SCHEMA ops IS 'Monitoring views, maintenance functions and the cron job declarations';

GRANT USAGE ON SCHEMA app TO maplatform_app, maplatform_readonly, maplatform_ops, maplatform_maintenance;
GRANT USAGE ON SCHEMA ops TO maplatform_ops;
-- CREATE too, because the maintenance functions in ops are handed over to this role.
GRANT USAGE, CREATE ON SCHEMA ops TO maplatform_maintenance;

ALTER DEFAULT PRIVILEGES FOR ROLE maplatform_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE maplatform_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO maplatform_app;
ALTER DEFAULT PRIVILEGES FOR ROLE maplatform_owner IN SCHEMA public
    GRANT SELECT ON TABLES TO maplatform_readonly;
ALTER DEFAULT PRIVILEGES FOR ROLE maplatform_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO maplatform_app;
ALTER DEFAULT PRIVILEGES FOR ROLE maplatform_owner IN SCHEMA ops
    GRANT SELECT ON TABLES TO maplatform_ops;

-- pg_cron jobs are declared here and scheduled by dbtool (dbtool/cron.py, docs/cron.md).
-- A job runs as whoever runs dbtool, often a superuser, so a row here must not be a way to run
-- arbitrary SQL as that user: commands are limited to calling a function without arguments, VACUUM
-- and ANALYZE (dbtool.cron checks the same shapes again before scheduling, e.g. after a restore).
CREATE TABLE ops.cron_jobs (
    jobname TEXT PRIMARY KEY CHECK (jobname ~ '^[a-z][a-z0-9_]*$'),
    schedule TEXT NOT NULL,
    command TEXT NOT NULL CONSTRAINT cron_jobs_command_shape CHECK (
        command ~ '^(SELECT|CALL) \w+\.\w+\(\)$'
        OR command ~ '^(VACUUM( \([A-Z, ]+\))?|ANALYZE)( \w+\.\w+(, \w+\.\w+)*)?$'
    ),
    active BOOLEAN NOT NULL DEFAULT TRUE
);
COMMENT ON TABLE ops.cron_jobs IS 'pg_cron jobs this database wants; dbtool schedules them as <jobname>@<database>';

CREATE FUNCTION app.current_tenant_id()
RETURNS UUID
LANGUAGE plpgsql
STABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    raw TEXT := current_setting('app.current_tenant', TRUE);
BEGIN
    IF raw IS NULL OR raw = '' THEN
        RETURN NULL;  -- no tenant set: policies compare with NULL and match no row
    END IF;
    IF raw !~* '^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$' THEN
        RAISE EXCEPTION 'app.current_tenant is set to %, which is not a tenant id (a uuid)',
            quote_literal(left(raw, 80))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'set the tenant with SELECT set_tenant_context(''<tenant uuid>'')';
    END IF;
    RETURN raw::UUID;
END
$$;
COMMENT ON FUNCTION app.current_tenant_id() IS
    'The tenant of this transaction or session; NULL when none is set. '
    'Policies call it as (SELECT app.current_tenant_id()).';
GRANT EXECUTE ON FUNCTION app.current_tenant_id()
    TO maplatform_app, maplatform_readonly, maplatform_ops, maplatform_maintenance;

CREATE FUNCTION public.set_tenant_context(tenant_id UUID)
RETURNS VOID
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Transaction-local (is_local = true): ends with the transaction. NULL clears the tenant.
    PERFORM set_config('app.current_tenant', COALESCE(tenant_id::TEXT, ''), TRUE);
END
$$;
COMMENT ON FUNCTION public.set_tenant_context(UUID) IS
    'Sets the tenant for the current transaction only (safe behind a transaction-mode pooler)';

CREATE FUNCTION public.set_tenant_context_for_session(tenant_id UUID)
RETURNS VOID
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('app.current_tenant', COALESCE(tenant_id::TEXT, ''), FALSE);
END
$$;
COMMENT ON FUNCTION public.set_tenant_context_for_session(UUID) IS
    'Sets the tenant for the rest of the session: only for connections that are never shared';

GRANT EXECUTE ON FUNCTION public.set_tenant_context(UUID), public.set_tenant_context_for_session(UUID)
    TO maplatform_app, maplatform_readonly;

CREATE FUNCTION app.touch_updated_at()
RETURNS TRIGGER
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION app.touch_updated_at() IS 'BEFORE UPDATE row trigger: keeps updated_at current';

-- Arrays of ids (deals.team_ids, tasks.depends_on, ...) cannot carry a foreign key. This statement
-- trigger checks all rows of a statement at once through its transition table, so a bulk load
-- costs one anti-join, not one lookup per row. Arguments: the array column and the table its ids
-- point at. The error is the same whether an id belongs to another tenant or to nobody, so it
-- reveals nothing about other tenants.
CREATE FUNCTION app.enforce_same_tenant_ids()
RETURNS TRIGGER
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    array_column TEXT := TG_ARGV[0];
    target REGCLASS := TG_ARGV[1]::REGCLASS;
    offending TEXT;
BEGIN
    EXECUTE format(
        $q$SELECT coalesce(r.ref::TEXT, 'NULL')
           FROM new_rows AS n CROSS JOIN LATERAL unnest(n.%1$I) AS r (ref)
           WHERE r.ref IS NULL
              OR NOT EXISTS (SELECT 1 FROM %2$s AS t WHERE t.tenant_id = n.tenant_id AND t.id = r.ref)
           LIMIT 1$q$, array_column, target)
    INTO offending;
    IF offending IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "%" violates same-tenant reference "%"', TG_TABLE_NAME, array_column
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('%s holds %s, which is not the id of a row of %s of the same tenant.',
                                  array_column, offending, target),
                  TABLE = TG_TABLE_NAME, COLUMN = array_column;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION app.enforce_same_tenant_ids() IS
    'AFTER INSERT/UPDATE statement trigger (transition table new_rows): '
    'every id in array TG_ARGV[0] is a row of TG_ARGV[1] of the same tenant';
