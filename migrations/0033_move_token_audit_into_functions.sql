-- Record a tenant token's registration in the two functions that register tokens, instead of by a
-- trigger on app.tenant_tokens.
--
-- Why: a step towards Citus (issue 16, docs/citus.md). app.tenant_tokens becomes a reference table,
-- which has a placement on every node, and a trigger on a reference table fires on each placement:
-- measured, tenant_tokens_audit failed from a worker (42P01, audit.events exists on the coordinator
-- only), so nobody could get a tenant context; with the trail on every node it would record each
-- registration once per node. The functions run once, on the node the client is connected to, so a
-- token registered once is one 'tenant_context_registered' event, on one server as on Citus.
--  * Who registers a token: app.use_tenant_token() (set_tenant_context, the first time a token is
--    used) and app.mint_tenant_token() (operators, `dbtool tenant token`). Each now calls
--    audit.record_tenant_token(tenant, key, expiry) when its INSERT ... ON CONFLICT DO NOTHING
--    inserted the row, after the INSERT and before the token is set, as the AFTER INSERT trigger
--    did: the same entry (tenant, type, actor, key and expiry, the session's user and address).
--    Deletes were never recorded (retiring a key, the hourly clean-up) and still are not.
--  * Who else can write app.tenant_tokens, read from the catalog before this migration: INSERT, UPDATE
--    and DELETE are held by its owner, maplatform_owner (no member), by pg_write_all_data and by superusers.
--    Row-level security is enabled and has no INSERT, UPDATE or DELETE policy, so a member of
--    pg_write_all_data inserts nothing (42501) and updates or deletes no row; no role with BYPASSRLS
--    holds the privilege (maplatform_maintenance has BYPASSRLS and no privilege on the table). So only
--    the owner role and superusers can register a token without these functions, and the trigger
--    never bound either: the owner could drop or disable the trigger of its own table, a superuser
--    anything. tests/test_audit_trail.py keeps that list (a role given the privilege, or BYPASSRLS
--    with pg_write_all_data, fails it): such a role would need an audit path of its own.
--  * audit.record_tenant_token() was the trigger's function; it becomes an ordinary function of the
--    trail's role (SECURITY DEFINER: only that role may insert into audit.events) that only the owner
--    role may call, as only it could fire the trigger. It can write one event type and nothing else.
-- The trigger and its function go, and the trail's new function comes, by the migrating superuser
-- (the function is handed to the trail's role, as 0023 does); the owner role replaces its two.
-- dbtool-lint: ignore owner-role because the trail's functions belong to its own role: a superuser's to make
DROP TRIGGER tenant_tokens_audit ON app.tenant_tokens;
-- dbtool-lint: ignore squawk/ban-drop-function because it was the dropped trigger's; the function below follows it
DROP FUNCTION audit.record_tenant_token();

CREATE FUNCTION audit.record_tenant_token(tenant UUID, key_id TEXT, expires_at TIMESTAMPTZ)
RETURNS VOID
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO audit.events (tenant_id, event_type, actor_id, details)
    VALUES (tenant, 'tenant_context_registered', audit.actor(tenant),
            jsonb_build_object('key_id', key_id, 'expires_at', expires_at));
END
$$;
COMMENT ON FUNCTION audit.record_tenant_token(UUID, TEXT, TIMESTAMPTZ) IS
    'Records that a tenant token was registered (called by app.use_tenant_token and app.mint_tenant_token)';
REVOKE ALL ON FUNCTION audit.record_tenant_token(UUID, TEXT, TIMESTAMPTZ) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.record_tenant_token(UUID, TEXT, TIMESTAMPTZ) TO maplatform_owner;
ALTER FUNCTION audit.record_tenant_token(UUID, TEXT, TIMESTAMPTZ) OWNER TO maplatform_audit_owner;

SET LOCAL ROLE maplatform_owner;

-- dbtool-lint: ignore migration-recreates because set_tenant_context and set_tenant_context_for_session call it
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

-- dbtool-lint: ignore migration-recreates because dbtool tenant token and the tests call it
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
    IF FOUND THEN  -- a token minted again in the same second is registered already: one event
        PERFORM audit.record_tenant_token(tenant, k.key_id, to_timestamp(expiry));
    END IF;
    RETURN token;
END
$$;
