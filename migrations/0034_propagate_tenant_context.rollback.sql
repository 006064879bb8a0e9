-- Undoes 0034_propagate_tenant_context: app.use_tenant_token as 0033 left it (set_config only, the
-- session-wide context allowed everywhere), app.verified_tenant() without the Citus setting, and on
-- Citus the database's utility statements tracked again.
-- dbtool-lint: ignore owner-role because a placeholder setting and track_utility are a superuser's to set
DO $$
BEGIN
    ALTER FUNCTION app.verified_tenant() RESET citus.allow_nested_distributed_execution;
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        EXECUTE pg_catalog.format('ALTER DATABASE %I RESET pg_stat_statements.track_utility',
                                  pg_catalog.current_database());
    END IF;
END
$$;

SET LOCAL ROLE maplatform_owner;

COMMENT ON FUNCTION public.set_tenant_context_for_session(TEXT) IS
    'Sets the tenant for the rest of the session from a signed token: only for connections that are never shared';

CREATE OR REPLACE FUNCTION app.use_tenant_token(token TEXT, is_local BOOLEAN)
RETURNS UUID
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hash BYTEA := sha256(convert_to(token, 'UTF8'));
    found UUID;
    v RECORD;
    inserted INTEGER;
BEGIN
    IF token IS NULL OR token = '' THEN
        PERFORM set_config('app.tenant_token', '', is_local);
        RETURN NULL;
    END IF;
    SELECT t.tenant_id INTO found FROM app.tenant_tokens AS t WHERE t.token_hash = hash AND t.expires_at > now();
    IF found IS NULL THEN
        SELECT * INTO v FROM app.verify_tenant_token(token);
        IF current_setting('transaction_read_only')::BOOLEAN THEN
            RAISE EXCEPTION 'this tenant token is valid but not registered yet, and the transaction is read-only'
                USING ERRCODE = '25006',
                      HINT = 'call set_tenant_context(token) once in a read-write transaction on the primary '
                             '(app.mint_tenant_token() registers the tokens it mints)';
        END IF;
        INSERT INTO app.tenant_tokens (token_hash, tenant_id, key_id, expires_at)
        VALUES (hash, v.tenant_id, v.key_id, v.expires_at)
        ON CONFLICT (token_hash) DO NOTHING;
        GET DIAGNOSTICS inserted = ROW_COUNT;  -- not FOUND, which the variable found hides
        IF inserted > 0 THEN  -- registered by this call, not by a concurrent one
            PERFORM audit.record_tenant_token(v.tenant_id, v.key_id, v.expires_at);
        END IF;
        found := v.tenant_id;
    END IF;
    PERFORM set_config('app.tenant_token', token, is_local);
    RETURN found;
END
$$;
