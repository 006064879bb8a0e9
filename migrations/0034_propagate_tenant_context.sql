-- Make the tenant context reach the Citus workers; on plain PostgreSQL nothing changes.
--
-- Why: a step towards Citus (issue 16, docs/citus.md, "Measured: what happens once they are
-- distributed"). The policies of a distributed table run on the workers' shards, each calling
-- app.verified_tenant() there, which reads app.tenant_token in the worker's session:
--  * set_config() is never sent to the workers, session-wide or local, so set_tenant_context()
--    gave the coordinator a tenant and the workers none (every query saw 0 rows). Citus sends a
--    `SET LOCAL` to the workers of the transaction when citus.propagate_set_commands is 'local',
--    also one run by PL/pgSQL inside this SECURITY DEFINER function, and also after a first
--    distributed query of the transaction (measured). So in a database with the citus extension
--    (its table pg_dist_partition exists), app.use_tenant_token() sets the token with
--    `SET LOCAL citus.propagate_set_commands = local` and `SET LOCAL app.tenant_token = '<token>'`,
--    clearing it the same way. The token is set only
--    after its signature was verified (or it was found registered), so nothing but a well-formed
--    token reaches that statement. It stays a setting of the transaction, on every node: a
--    transaction-mode pooler hands on nothing, and a forged value still matches no registered token.
--    Two limits, both failing closed (the tenant's rows missing, never another's; docs/citus.md): a
--    token registered by this call is known to the workers once the transaction commits (the row
--    goes over the owner's connections, the shards are read over the caller's), and a SET LOCAL made
--    inside a savepoint is not sent to worker connections opened after its release.
--  * Without citus, set_config() as before: a SET LOCAL is a statement, and with
--    pg_stat_statements.track = all (the tests', the dev cluster's) its text, the token, would be
--    kept there, one entry per token, readable by pg_read_all_stats (maplatform_ops); set_config's
--    statement has the token as a parameter. On Citus the statement is the only way, and the
--    workers receive it as a statement of their own, kept by their pg_stat_statements as the
--    application's login, which reaches them through Citus (run_command_on_workers): measured, a
--    session of that login read the other tenants' live tokens there. So on Citus the database
--    also gets pg_stat_statements.track_utility = off (Citus propagates it to the workers), which
--    keeps every SET, DDL and utility statement out of the statistics; `dbtool migrate` gives the
--    workers the coordinator's grants on the views of other sessions' statements (docs/citus.md).
--  * Citus propagates no session-wide SET, so set_tenant_context_for_session() (a session-wide
--    context, for connections that are never shared) is refused there with 0A000 and a hint; it
--    stays for plain PostgreSQL.
--  * app.verified_tenant() runs on a worker inside the shard's query and reads app.tenant_tokens, a
--    reference table, which Citus refused ("cannot execute a distributed query from a query on a
--    shard") until the function set citus.allow_nested_distributed_execution: the read then goes to
--    the worker's own placement. Without Citus loaded that is a placeholder setting, accepted and
--    read by nothing (PostgreSQL 15 lets only a superuser attach a placeholder to a function, so this
--    statement runs as the migrating superuser).

-- In a DO block: sqlfluff cannot parse a dotted setting name in ALTER FUNCTION. On Citus only, no
-- utility statement in pg_stat_statements, so no tenant token either (on every node: Citus
-- propagates the database's settings).
-- dbtool-lint: ignore owner-role because a placeholder setting and track_utility are a superuser's to set
DO $$
BEGIN
    ALTER FUNCTION app.verified_tenant() SET citus.allow_nested_distributed_execution = on;
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        EXECUTE pg_catalog.format('ALTER DATABASE %I SET pg_stat_statements.track_utility = off',
                                  pg_catalog.current_database());
    END IF;
END
$$;

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
    -- the citus extension's catalog table: a cache lookup (a query of pg_extension doubled the call's time)
    on_citus BOOLEAN := pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL;
BEGIN
    IF on_citus AND NOT is_local THEN
        RAISE EXCEPTION 'a session-wide tenant context does not reach the Citus workers'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'call set_tenant_context(token) in each transaction, before its first query (docs/citus.md)';
    END IF;
    IF token IS NULL OR token = '' THEN
        found := NULL;
    ELSE
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
    END IF;
    IF on_citus THEN  -- a SET LOCAL, which Citus sends to the workers of this transaction
        EXECUTE 'SET LOCAL citus.propagate_set_commands = local';
        EXECUTE format('SET LOCAL app.tenant_token = %L', coalesce(token, ''));
    ELSE
        PERFORM set_config('app.tenant_token', coalesce(token, ''), is_local);
    END IF;
    RETURN found;
END
$$;

COMMENT ON FUNCTION public.set_tenant_context_for_session(TEXT) IS
    'Sets the tenant for the rest of the session from a signed token: only for connections that are never shared; '
    'refused on Citus, which sends no session-wide setting to its workers';
