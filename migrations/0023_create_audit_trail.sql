-- Create the application's audit trail: who opened which data room, viewed, downloaded or printed
-- which document, whose data-room permissions were granted, changed or revoked, and which tenant
-- tokens were registered (a tenant context established), per tenant and append-only.
--
-- Why: the architecture document's "Compliance: audit logging" (issue 20): an M&A data room must
-- answer "who saw which document when" for each tenant. pgaudit (0022) writes schema and role
-- changes to the server log; access to rows, at the platform's traffic, belongs in the database
-- next to the data, where each tenant reads its own trail. Design (docs/audit.md):
--  * audit.events is a hypertable of monthly chunks in a schema no tenant-facing role may use, as
--    the timeline is (0018): chunks are not schema (drift ignores them) and retention drops whole
--    chunks. It has no index on time alone: a tenant's time condition could use one and count every
--    tenant's entries in EXPLAIN ANALYZE before the view's filter; (tenant_id, time DESC) serves
--    the tenant's reads. Tenants read their entries through public.audit_events (sql/views/), a
--    security_barrier view of the verified tenant's rows.
--  * Written only by the owner's functions: triggers on public.data_room_permissions (granted,
--    changed, revoked) and on app.tenant_tokens (a token registered), and
--    public.record_data_room_access() / public.record_document_access(), which the application calls
--    when a user opens a room or a document; they take the tenant from the verified context and
--    refuse a room, document or user of another tenant. The acting user is what the application
--    says: the functions' user argument; for permission changes app.actor_id (SET LOCAL), else the
--    permission's granted_by (a claim of the application's trusted side, like the rest of its
--    writes; the database user is recorded as well).
--  * Append-only, for everyone but a superuser: the trail belongs to maplatform_audit_owner, a role
--    nobody logs in as or belongs to (created here, so this file runs as the migrating superuser, as
--    0022 does). No other role has any privilege on the table but SELECT for the owner role (whose
--    view reads it); a trigger refuses UPDATE, DELETE and TRUNCATE even to the trail's own role. The
--    owner role loses TimescaleDB's internal drop_chunk (0016 gave it the volatile internals), which
--    checks no privilege and would drop any chunk. Entries leave only by the 7-year retention, which
--    drops whole chunks (audit.drop_expired_events, a pg_cron job the owner role may only start).
-- dbtool-lint: ignore owner-role because the trail belongs to a role of its own, which only a superuser can create
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'maplatform_audit_owner') THEN
        CREATE ROLE maplatform_audit_owner NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION
    WHEN duplicate_object THEN
        NULL;  -- another database's migration created it a moment ago (roles are cluster-wide)
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'the audit trail''s role is a superuser''s to create, and % is not one', session_user
            USING HINT = 'run this migration as a superuser (docs/audit.md)';
END
$$;
COMMENT ON ROLE maplatform_audit_owner IS
    'Owns the audit trail (schema audit): nobody logs in as it or belongs to it, so only a superuser can change it';

-- With TimescaleDB's internal drop_chunk, which checks no privilege, the owner role could drop any
-- chunk of the trail; it needs it for nothing (retention goes through drop_chunks, which does check).
-- The trail's role gets what its retention needs of the routines 0016 took from PUBLIC:
-- drop_chunks, which checks that it owns the table.
DO $$
DECLARE
    routine REGPROCEDURE;
    name TEXT;
BEGIN
    FOR routine, name IN
        SELECT p.oid::REGPROCEDURE, p.proname
        FROM pg_catalog.pg_proc AS p
        INNER JOIN pg_catalog.pg_depend AS d
            ON d.classid = 'pg_catalog.pg_proc'::REGCLASS AND p.oid = d.objid AND d.deptype = 'e'
        INNER JOIN pg_catalog.pg_extension AS e ON d.refobjid = e.oid
        WHERE e.extname = 'timescaledb' AND p.proname IN ('drop_chunk', 'drop_chunks')
    LOOP
        IF name = 'drop_chunk' THEN
            EXECUTE pg_catalog.format('REVOKE EXECUTE ON ROUTINE %s FROM maplatform_owner', routine);
        ELSE
            EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE %s TO maplatform_audit_owner', routine);
        END IF;
    END LOOP;
END
$$;

CREATE SCHEMA audit AUTHORIZATION maplatform_audit_owner;
COMMENT ON SCHEMA audit IS
    'The audit trail and its chunks: no USAGE for tenant-facing roles, who read public.audit_events';
-- What the recording functions read to check a room, document or user is the tenant's (row-level
-- security applies to them as to everyone); and public, where the application finds its two.
GRANT SELECT ON public.users, public.data_rooms, public.documents TO maplatform_audit_owner;
GRANT USAGE ON SCHEMA app TO maplatform_audit_owner;
GRANT EXECUTE ON FUNCTION app.verified_tenant(), app.current_tenant_id() TO maplatform_audit_owner;

-- Built as the migrating superuser, then handed to the trail's role (at the end): on a Citus
-- coordinator, DDL run as a role runs on the workers over a connection as that role, and this one
-- must not be able to log in anywhere.

CREATE TABLE audit.events (
    time TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    tenant_id UUID NOT NULL,
    event_type TEXT NOT NULL CONSTRAINT events_event_type_check CHECK (event_type IN (
        'data_room_opened', 'document_viewed', 'document_downloaded', 'document_printed',
        'permission_granted', 'permission_changed', 'permission_revoked', 'tenant_context_registered'
    )),
    actor_id UUID,
    subject_id UUID,
    details JSONB NOT NULL DEFAULT '{}',
    db_user TEXT NOT NULL DEFAULT session_user,
    client_addr INET DEFAULT inet_client_addr()
);
COMMENT ON TABLE audit.events IS
    'Append-only audit trail of data-room access, permission changes and tenant tokens, per tenant (docs/audit.md)';
COMMENT ON COLUMN audit.events.time IS
    'When it happened (clock time: entries of one transaction keep their order)';
COMMENT ON COLUMN audit.events.tenant_id IS
    'The tenant whose trail it is; no foreign key: the trail outlives a deleted tenant';
COMMENT ON COLUMN audit.events.event_type IS
    'What happened: a room opened, a document viewed, downloaded or printed, a permission changed, ...';
COMMENT ON COLUMN audit.events.details IS 'For permissions their state before and after; for tokens the key and expiry';
COMMENT ON COLUMN audit.events.client_addr IS 'The client address of that session (NULL over a unix socket)';
COMMENT ON COLUMN audit.events.actor_id IS 'The application''s user who acted, as the application says; NULL if unsaid';
COMMENT ON COLUMN audit.events.subject_id IS 'The data room, document or permission the event is about';
COMMENT ON COLUMN audit.events.db_user IS 'The database user of the session that caused the event';
SELECT public.create_hypertable('audit.events', 'time', chunk_time_interval => INTERVAL '1 month',
    associated_schema_name => 'audit', create_default_indexes => FALSE);
CREATE INDEX events_tenant_id_time_idx ON audit.events (tenant_id, time DESC);

CREATE FUNCTION audit.refuse_change()
RETURNS TRIGGER
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'audit.events is append-only: % refused', TG_OP
        USING ERRCODE = '42501',
              HINT = 'entries leave only by the retention job (audit.drop_expired_events); docs/audit.md';
END
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON audit.events
FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events
FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- The application's claim of who acts in this transaction (SET LOCAL app.actor_id = '<user uuid>'),
-- kept only when it names a user of `tenant`: anything else (not a uuid, another tenant's user, a
-- value left in a pooled session) is no claim.
CREATE FUNCTION audit.actor(tenant UUID)
RETURNS UUID
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id FROM public.users AS u
    WHERE current_setting('app.actor_id', TRUE) ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
      AND u.id = current_setting('app.actor_id', TRUE)::UUID AND u.tenant_id = tenant;
$$;

CREATE FUNCTION audit.record_permission_change()
RETURNS TRIGGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- What a permission is: not its access counters.
    counters TEXT[] := ARRAY['last_accessed_at', 'access_count'];
    before JSONB := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) - counters END;
    after JSONB := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) - counters END;
BEGIN
    IF TG_OP = 'UPDATE' AND before = after THEN
        RETURN NULL;  -- only the counters moved: not a change of permission
    END IF;
    INSERT INTO audit.events (tenant_id, event_type, actor_id, subject_id, details)
    VALUES ((coalesce(after, before) ->> 'tenant_id')::UUID,
            -- the searched form: Citus 13 deparses `CASE TG_OP WHEN ...` into text = boolean (42883)
            CASE WHEN TG_OP = 'INSERT' THEN 'permission_granted' WHEN TG_OP = 'UPDATE' THEN 'permission_changed'
                 ELSE 'permission_revoked' END,
            coalesce(audit.actor((coalesce(after, before) ->> 'tenant_id')::UUID), (after ->> 'granted_by')::UUID),
            (coalesce(after, before) ->> 'id')::UUID,
            jsonb_strip_nulls(jsonb_build_object('before', before, 'after', after)));
    RETURN NULL;
END
$$;

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

-- The tenant of the call, and the user it names as one of that tenant's: an entry must never name
-- another tenant's user, room or document (the same error whether it is another's or does not exist).
CREATE FUNCTION audit.tenant_of_call(user_id UUID)
RETURNS UUID
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant UUID := app.current_tenant_id();
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'no tenant context: nothing can be recorded'
            USING ERRCODE = '42501', HINT = 'set the tenant first: SELECT set_tenant_context(''<token>'')';
    END IF;
    PERFORM 1 FROM public.users AS u WHERE u.id = user_id AND u.tenant_id = tenant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user % is not a user of this tenant', user_id USING ERRCODE = '23503';
    END IF;
    RETURN tenant;
END
$$;

CREATE FUNCTION public.record_data_room_access(data_room_id UUID, user_id UUID)
RETURNS VOID
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant UUID := audit.tenant_of_call(user_id);
BEGIN
    PERFORM 1 FROM public.data_rooms AS r WHERE r.id = data_room_id AND r.tenant_id = tenant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'data room % is not one of this tenant''s', data_room_id USING ERRCODE = '23503';
    END IF;
    INSERT INTO audit.events (tenant_id, event_type, actor_id, subject_id)
    VALUES (tenant, 'data_room_opened', user_id, data_room_id);
END
$$;
COMMENT ON FUNCTION public.record_data_room_access(UUID, UUID) IS
    'Records in the tenant''s audit trail that the user opened the data room (docs/audit.md)';

CREATE FUNCTION public.record_document_access(document_id UUID, user_id UUID, action TEXT DEFAULT 'view')
RETURNS VOID
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant UUID := audit.tenant_of_call(user_id);
    kind TEXT := CASE WHEN action = 'view' THEN 'document_viewed' WHEN action = 'download' THEN 'document_downloaded'
                      WHEN action = 'print' THEN 'document_printed' END;
BEGIN
    IF kind IS NULL THEN
        RAISE EXCEPTION 'unknown document action %', action USING ERRCODE = '22023', HINT = 'view, download or print';
    END IF;
    PERFORM 1 FROM public.documents AS d WHERE d.id = document_id AND d.tenant_id = tenant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'document % is not one of this tenant''s', document_id USING ERRCODE = '23503';
    END IF;
    INSERT INTO audit.events (tenant_id, event_type, actor_id, subject_id)
    VALUES (tenant, kind, user_id, document_id);
END
$$;
COMMENT ON FUNCTION public.record_document_access(UUID, UUID, TEXT) IS
    'Records in the tenant''s audit trail that the user viewed, downloaded or printed the document (docs/audit.md)';

-- Functions are executable by PUBLIC unless revoked (no default privileges say otherwise here).
REVOKE ALL ON FUNCTION audit.refuse_change(), audit.actor(UUID), audit.record_permission_change(),
audit.record_tenant_token(), audit.tenant_of_call(UUID), public.record_data_room_access(UUID, UUID),
public.record_document_access(UUID, UUID, TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.record_data_room_access(UUID, UUID), public.record_document_access(UUID, UUID, TEXT)
TO maplatform_app;

-- Retention: 7 years, the longest record-keeping period an M&A adviser is commonly held to; whole
-- monthly chunks go, so no row trigger is involved. It runs as the trail's role (drop_chunks needs
-- ownership), on both editions (the Apache one has no retention policies); the owner role, which
-- pg_cron's jobs run as, may start it and do nothing else to the trail but read it (its view does).
CREATE FUNCTION audit.drop_expired_events()
RETURNS INTEGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    dropped INTEGER;
BEGIN
    SELECT count(*) INTO dropped FROM public.drop_chunks('audit.events', older_than => INTERVAL '7 years');
    RETURN dropped;
END
$$;
REVOKE ALL ON FUNCTION audit.drop_expired_events() FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO maplatform_owner;
GRANT SELECT ON audit.events TO maplatform_owner;
-- The owner role creates the triggers on its tables below, which needs EXECUTE on their functions.
GRANT EXECUTE ON FUNCTION audit.drop_expired_events(), audit.record_permission_change(), audit.record_tenant_token()
TO maplatform_owner;

ALTER TABLE audit.events OWNER TO maplatform_audit_owner;
ALTER FUNCTION audit.refuse_change() OWNER TO maplatform_audit_owner;
ALTER FUNCTION audit.actor(UUID) OWNER TO maplatform_audit_owner;
ALTER FUNCTION audit.record_permission_change() OWNER TO maplatform_audit_owner;
ALTER FUNCTION audit.record_tenant_token() OWNER TO maplatform_audit_owner;
ALTER FUNCTION audit.tenant_of_call(UUID) OWNER TO maplatform_audit_owner;
ALTER FUNCTION public.record_data_room_access(UUID, UUID) OWNER TO maplatform_audit_owner;
ALTER FUNCTION public.record_document_access(UUID, UUID, TEXT) OWNER TO maplatform_audit_owner;
ALTER FUNCTION audit.drop_expired_events() OWNER TO maplatform_audit_owner;

SET LOCAL ROLE maplatform_owner;
CREATE TRIGGER data_room_permissions_audit AFTER INSERT OR UPDATE OR DELETE ON public.data_room_permissions
FOR EACH ROW EXECUTE FUNCTION audit.record_permission_change();
CREATE TRIGGER tenant_tokens_audit AFTER INSERT ON app.tenant_tokens
FOR EACH ROW EXECUTE FUNCTION audit.record_tenant_token();
INSERT INTO ops.cron_jobs (jobname, schedule, command)
VALUES ('audit_events_retention', '45 3 * * *', 'SELECT audit.drop_expired_events()');
