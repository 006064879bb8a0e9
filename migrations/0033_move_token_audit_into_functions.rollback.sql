-- Undoes 0033_move_token_audit_into_functions: the two functions as 0017 made them, and the trigger
-- on app.tenant_tokens and its function as 0023 made them.
-- dbtool-lint: ignore owner-role because the trail's functions belong to its own role: a superuser's to make
DROP FUNCTION audit.record_tenant_token(UUID, TEXT, TIMESTAMPTZ);

CREATE FUNCTION audit.record_tenant_token()
RETURNS TRIGGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO audit.events (tenant_id, event_type, actor_id, details)
    VALUES (NEW.tenant_id, 'tenant_context_registered', audit.actor(NEW.tenant_id),
            jsonb_build_object('key_id', NEW.key_id, 'expires_at', NEW.expires_at));
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION audit.record_tenant_token() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.record_tenant_token() TO maplatform_owner;
ALTER FUNCTION audit.record_tenant_token() OWNER TO maplatform_audit_owner;

SET LOCAL ROLE maplatform_owner;

CREATE OR REPLACE FUNCTION app.mint_tenant_token(
    tenant UUID, ttl INTERVAL DEFAULT INTERVAL '15 minutes', key TEXT DEFAULT NULL
)
RETURNS TEXT
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k RECORD;
    expiry BIGINT := ceil(extract(EPOCH FROM clock_timestamp() + ttl))::BIGINT;
    body TEXT;
    token TEXT;
BEGIN
    IF tenant IS NULL OR ttl IS NULL OR ttl <= INTERVAL '0' OR ttl > INTERVAL '1 day' THEN
        RAISE EXCEPTION 'a tenant token needs a tenant and a lifetime between 1 second and 1 day'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT tk.key_id, tk.secret INTO k FROM app_private.tenant_keys AS tk
    WHERE tk.retired_at IS NULL AND (key IS NULL OR tk.key_id = key)
    ORDER BY tk.created_at DESC, tk.key_id LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no active tenant key%', coalesce(' ' || key, '')
            USING ERRCODE = '28T04', HINT = 'add one with dbtool tenant key add';
    END IF;
    body := format('v1.%s.%s.%s', tenant, expiry, k.key_id);
    token := body || '.' || encode(public.hmac(convert_to(body, 'UTF8'), k.secret, 'sha256'), 'hex');
    INSERT INTO app.tenant_tokens (token_hash, tenant_id, key_id, expires_at)
    VALUES (sha256(convert_to(token, 'UTF8')), tenant, k.key_id, to_timestamp(expiry))
    ON CONFLICT (token_hash) DO NOTHING;  -- the same tenant, key and second give the same token
    RETURN token;
END
$$;

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
        found := v.tenant_id;
    END IF;
    PERFORM set_config('app.tenant_token', token, is_local);
    RETURN found;
END
$$;

CREATE TRIGGER tenant_tokens_audit AFTER INSERT ON app.tenant_tokens
FOR EACH ROW EXECUTE FUNCTION audit.record_tenant_token();
