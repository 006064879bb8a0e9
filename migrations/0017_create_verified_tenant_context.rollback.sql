-- Undoes 0017_create_verified_tenant_context: statements run top to bottom, newest change first.
-- The tenant context goes back to the plain setting app.current_tenant of 0003 (forgeable: see
-- docs/roles.md). The policies and views that call app.verified_tenant() (sql/policies/, sql/views/)
-- are dropped first: until the database is migrated forward again, its tenant tables have row-level
-- security and no policy, so the application sees nothing (closed, not open).
SET LOCAL ROLE maplatform_owner;

DO $$
DECLARE
    dependent RECORD;
BEGIN
    FOR dependent IN
        SELECT DISTINCT pg_catalog.format('DROP POLICY %I ON %s', p.polname, p.polrelid::REGCLASS) AS stmt
        FROM pg_catalog.pg_depend AS d
        INNER JOIN pg_catalog.pg_policy AS p ON d.classid = 'pg_catalog.pg_policy'::REGCLASS AND d.objid = p.oid
        WHERE d.refclassid = 'pg_catalog.pg_proc'::REGCLASS AND d.refobjid = 'app.verified_tenant()'::REGPROCEDURE
        UNION
        SELECT DISTINCT pg_catalog.format('DROP VIEW IF EXISTS %s', w.ev_class::REGCLASS)
        FROM pg_catalog.pg_depend AS d
        INNER JOIN pg_catalog.pg_rewrite AS w ON d.classid = 'pg_catalog.pg_rewrite'::REGCLASS AND d.objid = w.oid
        WHERE d.refclassid = 'pg_catalog.pg_proc'::REGCLASS AND d.refobjid = 'app.verified_tenant()'::REGPROCEDURE
    LOOP
        EXECUTE dependent.stmt;
    END LOOP;
END
$$;

DELETE FROM ops.cron_jobs
WHERE jobname = 'cleanup_tenant_tokens';
DROP FUNCTION ops.cleanup_tenant_tokens();
DROP FUNCTION app.retire_tenant_key(TEXT);
DROP FUNCTION app.add_tenant_key(TEXT, BYTEA);
DROP FUNCTION app.mint_tenant_token(UUID, INTERVAL, TEXT);

CREATE OR REPLACE FUNCTION app.current_tenant_id()
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
GRANT EXECUTE ON FUNCTION public.set_tenant_context(UUID), public.set_tenant_context_for_session(UUID)
TO maplatform_app, maplatform_readonly;

DROP FUNCTION public.set_tenant_context_for_session(TEXT);
DROP FUNCTION public.set_tenant_context(TEXT);
DROP FUNCTION app.use_tenant_token(TEXT, BOOLEAN);
DROP FUNCTION app.verified_tenant();
DROP FUNCTION app.verify_tenant_token(TEXT);
DROP TABLE app.tenant_tokens;
DROP TABLE app_private.tenant_keys;
DROP SCHEMA app_private;
