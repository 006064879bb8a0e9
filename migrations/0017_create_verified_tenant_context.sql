-- Make the tenant context unforgeable: the application proves which tenant it acts for with a
-- signed, short-lived token instead of naming the tenant.
--
-- Why: the policies trusted app.current_tenant, a setting any role can change with set_config(), so
-- SQL injected into the application, or any reporting login, could act as every tenant (issue 12;
-- docs/roles.md explains the threat model). Now:
--  * The trusted side of the application holds a secret key and mints tokens
--    `v1.<tenant uuid>.<expiry, unix seconds>.<key id>.<hex HMAC-SHA256 of the first four parts>`
--    (dbtool.tenant_token.mint in Python; app.mint_tenant_token() on the server for operators).
--  * set_tenant_context(token) checks the token against app_private.tenant_keys, which no
--    tenant-facing role can read, and raises a distinct error for each fault (SQLSTATE 28T01
--    malformed, 28T02 bad signature, 28T03 expired, 28T04 unknown or retired key). A good token is
--    registered once in app.tenant_tokens by its SHA-256 and put in the transaction-local setting
--    app.tenant_token.
--  * Policies and views compare with `(SELECT app.verified_tenant())`: an InitPlan, once per
--    statement, that looks the token's SHA-256 up in app.tenant_tokens (PL/pgSQL, so the lookup is
--    planned once per session). A token nobody verified matches no row, so set_config() alone reaches
--    no tenant. Measured per statement, server side: checking the signature every time costs
--    60-90 µs, the same lookup written inline in each policy 70-80 µs (planning a sub-select on a
--    second table), this function about what the old forgeable setting cost. Registration is one
--    write per token, not per transaction: a registered token works in read-only transactions and on
--    standbys. No tenant-facing role can read the registry itself.
-- The old set_tenant_context(uuid) functions are dropped: they were the forgery.
SET LOCAL ROLE maplatform_owner;

CREATE SCHEMA app_private AUTHORIZATION maplatform_owner;
COMMENT ON SCHEMA app_private IS 'Secrets of the tenant context: no USAGE for any other role';

CREATE TABLE app_private.tenant_keys (
    key_id TEXT PRIMARY KEY CHECK (key_id ~ '^[a-z0-9_-]{1,32}$'),
    secret BYTEA NOT NULL CHECK (octet_length(secret) >= 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    retired_at TIMESTAMPTZ
);
COMMENT ON TABLE app_private.tenant_keys IS
    'HMAC-SHA256 keys that sign tenant tokens; several may be active at once (rotation)';

-- dbtool-lint: ignore tenant-table-rls because it is the context itself, read only through app.verified_tenant()
CREATE TABLE app.tenant_tokens (
    token_hash BYTEA PRIMARY KEY,
    tenant_id UUID NOT NULL,
    key_id TEXT NOT NULL REFERENCES app_private.tenant_keys (key_id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX tenant_tokens_expires_at_idx ON app.tenant_tokens (expires_at);
CREATE INDEX tenant_tokens_key_id_idx ON app.tenant_tokens (key_id);
COMMENT ON TABLE app.tenant_tokens IS
    'SHA-256 of every verified, unexpired tenant token and its tenant: what the policies read';
-- No grant to any other role: only the owner's functions read it. Row-level security as well, should
-- one ever be granted: a role would see only the row of the token it holds.
ALTER TABLE app.tenant_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_token ON app.tenant_tokens
AS PERMISSIVE
FOR SELECT
TO PUBLIC
USING (token_hash = sha256(convert_to(current_setting('app.tenant_token', TRUE), 'UTF8')));

-- The tenant of the verified token in app.tenant_token, or NULL: what every policy compares with.
CREATE FUNCTION app.verified_tenant()
RETURNS UUID
LANGUAGE plpgsql
STABLE
PARALLEL SAFE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant UUID;
BEGIN
    SELECT t.tenant_id INTO tenant
    FROM app.tenant_tokens AS t
    WHERE t.token_hash = sha256(convert_to(current_setting('app.tenant_token', TRUE), 'UTF8'))
      AND t.expires_at > now();
    RETURN tenant;
END
$$;
COMMENT ON FUNCTION app.verified_tenant() IS
    'The tenant of the registered, unexpired token of this transaction or session; NULL otherwise. '
    'Policies call it as (SELECT app.verified_tenant())';
GRANT EXECUTE ON FUNCTION app.verified_tenant()
TO maplatform_app, maplatform_readonly, maplatform_ops, maplatform_maintenance;

-- The checks of a token, in an order that tells a forger nothing: shape, key, signature, expiry.
CREATE FUNCTION app.verify_tenant_token(token TEXT, OUT tenant_id UUID, OUT key_id TEXT, OUT expires_at TIMESTAMPTZ)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts TEXT[] := string_to_array(token, '.');
    key BYTEA;
BEGIN
    IF token IS NULL OR cardinality(parts) <> 5 OR parts[1] <> 'v1'
       OR parts[2] !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
       OR parts[3] !~ '^[0-9]{1,12}$' OR parts[4] !~ '^[a-z0-9_-]{1,32}$' OR parts[5] !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'malformed tenant token'
            USING ERRCODE = '28T01',
                  HINT = 'a token reads v1.<tenant uuid>.<expiry>.<key id>.<signature>; mint it with '
                         'dbtool.tenant_token.mint or app.mint_tenant_token()';
    END IF;
    SELECT k.secret INTO key FROM app_private.tenant_keys AS k WHERE k.key_id = parts[4] AND k.retired_at IS NULL;
    IF key IS NULL THEN
        RAISE EXCEPTION 'tenant token signed with an unknown or retired key %', parts[4]
            USING ERRCODE = '28T04', HINT = 'mint a new token with an active key (dbtool tenant key list)';
    END IF;
    -- The digests of the two MACs are compared, so the time the comparison takes says nothing about
    -- how much of a forged signature is right.
    IF sha256(public.hmac(convert_to(array_to_string(parts[1:4], '.'), 'UTF8'), key, 'sha256'))
       <> sha256(decode(parts[5], 'hex')) THEN
        RAISE EXCEPTION 'tenant token signature does not match'
            USING ERRCODE = '28T02',
                  HINT = 'the token was altered, or signed with another secret than key ' || parts[4];
    END IF;
    expires_at := to_timestamp(parts[3]::BIGINT);
    IF expires_at <= now() THEN
        RAISE EXCEPTION 'tenant token expired at %', expires_at
            USING ERRCODE = '28T03', HINT = 'mint a new token';
    END IF;
    tenant_id := parts[2]::UUID;
    key_id := parts[4];
END
$$;
COMMENT ON FUNCTION app.verify_tenant_token(TEXT) IS
    'The tenant, key and expiry of a well-formed, correctly signed, unexpired token; raises 28T01-28T04 otherwise';

-- Registers a verified token (once: a registered token costs a primary-key lookup) and sets it.
CREATE FUNCTION app.use_tenant_token(token TEXT, is_local BOOLEAN)
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
COMMENT ON FUNCTION app.use_tenant_token(TEXT, BOOLEAN) IS
    'Verifies and registers a tenant token and makes it the tenant context; returns its tenant';

CREATE FUNCTION public.set_tenant_context(token TEXT)
RETURNS UUID
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT app.use_tenant_token(token, TRUE);
$$;
COMMENT ON FUNCTION public.set_tenant_context(TEXT) IS
    'Sets the tenant of the current transaction only, from a signed token (safe behind a transaction-mode '
    'pooler); NULL clears it; returns the tenant';

CREATE FUNCTION public.set_tenant_context_for_session(token TEXT)
RETURNS UUID
LANGUAGE sql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT app.use_tenant_token(token, FALSE);
$$;
COMMENT ON FUNCTION public.set_tenant_context_for_session(TEXT) IS
    'Sets the tenant for the rest of the session from a signed token: only for connections that are never shared';

GRANT EXECUTE ON FUNCTION app.use_tenant_token(TEXT, BOOLEAN), public.set_tenant_context(TEXT),
public.set_tenant_context_for_session(TEXT)
TO maplatform_app, maplatform_readonly;

-- dbtool-lint: ignore squawk/ban-drop-function because naming the tenant by its id is the forgery removed here
DROP FUNCTION public.set_tenant_context(UUID);
-- dbtool-lint: ignore squawk/ban-drop-function because naming the tenant by its id is the forgery removed here
DROP FUNCTION public.set_tenant_context_for_session(UUID);

-- The tenant of this transaction for column defaults and functions. Unlike a policy, which simply
-- matches nothing, it says what is wrong when a token is set but not registered or expired.
-- dbtool-lint: ignore migration-recreates because the tenant_id defaults of 0004-0013 call it
CREATE OR REPLACE FUNCTION app.current_tenant_id()
RETURNS UUID
LANGUAGE plpgsql
STABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant UUID := app.verified_tenant();
BEGIN
    IF tenant IS NULL AND current_setting('app.tenant_token', TRUE) <> '' THEN
        RAISE EXCEPTION 'app.tenant_token holds a token that was not verified here, or has expired'
            USING ERRCODE = '28T05', HINT = 'set the tenant with SELECT set_tenant_context(''<token>'')';
    END IF;
    RETURN tenant;  -- NULL when no tenant is set: policies compare with NULL and match no row
END
$$;
COMMENT ON FUNCTION app.current_tenant_id() IS
    'The tenant of the verified token of this transaction or session; NULL when none is set';

-- For operators and tests: a token for a tenant, signed on the server and registered at once (so a
-- read-only login can use it). Nobody but the owner role may call it.
CREATE FUNCTION app.mint_tenant_token(tenant UUID, ttl INTERVAL DEFAULT INTERVAL '15 minutes', key TEXT DEFAULT NULL)
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
COMMENT ON FUNCTION app.mint_tenant_token(UUID, INTERVAL, TEXT) IS
    'A signed, registered tenant token (operators and tests; the application mints its own)';

CREATE FUNCTION app.add_tenant_key(key TEXT, secret BYTEA)
RETURNS VOID
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO app_private.tenant_keys (key_id, secret) VALUES (key, secret);
$$;
COMMENT ON FUNCTION app.add_tenant_key(TEXT, BYTEA) IS 'Adds a signing key (rotation: add the new, retire the old)';

-- Retiring a key also forgets the tokens it signed: they stop working at once.
CREATE FUNCTION app.retire_tenant_key(key TEXT)
RETURNS INTEGER
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    forgotten INTEGER;
BEGIN
    UPDATE app_private.tenant_keys SET retired_at = now() WHERE key_id = key AND retired_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no active tenant key %', key USING ERRCODE = '28T04';
    END IF;
    DELETE FROM app.tenant_tokens WHERE key_id = key;
    GET DIAGNOSTICS forgotten = ROW_COUNT;
    RETURN forgotten;
END
$$;
COMMENT ON FUNCTION app.retire_tenant_key(TEXT) IS
    'Retires a signing key and forgets the tokens it signed; returns how many';

-- Runs as the owner role, which owns the table (pg_cron jobs run as maplatform_owner, 0016).
CREATE FUNCTION ops.cleanup_tenant_tokens()
RETURNS INTEGER
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    removed INTEGER;
BEGIN
    DELETE FROM app.tenant_tokens WHERE expires_at < now() - INTERVAL '1 hour';
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION ops.cleanup_tenant_tokens() IS
    'Forgets tenant tokens that expired over an hour ago; returns how many';

INSERT INTO ops.cron_jobs (jobname, schedule, command)
VALUES ('cleanup_tenant_tokens', '20 * * * *', 'SELECT ops.cleanup_tenant_tokens()');
