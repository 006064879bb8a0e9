-- On a Citus coordinator, let the application's logins read the timeline and the audit trail through
-- their views again, and write the timeline's events through its view.
--
-- Why: Citus runs a view's query on the shards as the current role, not as the view's owner
-- (citusdata/citus#1683; #6161: every view is security invoker there). public.activity_timeline and
-- public.audit_events were the application's only way into timeline.activity_timeline and audit.events,
-- on which its roles have no privilege; once 0039 distributed them, reading either view failed with
-- 42501 on the workers (measured, docs/citus.md). So on Citus the tables check the login themselves:
-- row-level security with the tenant_isolation policy every tenant table has, and the privileges the
-- views gave (USAGE on the schemas, SELECT on both, the timeline's writes). Not forced: the owners
-- (latest_activity(), the audit recorders, the partition jobs) keep reading and writing every
-- tenant, as on one server; maplatform_maintenance bypasses row-level security.
-- Citus does no DML through a view over a distributed table ("cannot modify views when the query
-- contains citus tables", measured even with an INSTEAD OF trigger for UPDATE and DELETE), so an
-- INSTEAD OF INSERT trigger keeps the application's INSERTs into public.activity_timeline; UPDATE and
-- DELETE of events go to timeline.activity_timeline itself, under its policy (docs/citus.md, "What
-- changes for the application").
-- On plain PostgreSQL nothing happens: TimescaleDB refuses compression on a table with row-level
-- security, and the views work there as the owner.
-- Runs as the migrating superuser: audit.events belongs to maplatform_audit_owner, which cannot log in
-- on the workers, and Citus propagates the policy as the current role.
-- dbtool-lint: ignore owner-role because it changes tables of two owners, one of which nobody can act as
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;  -- plain PostgreSQL: the views read the tables as their owner
    END IF;
    -- Citus sends the function to the workers over one connection per node, after the policies'
    -- changes to every shard: those must use the same connections.
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', TRUE);

    ALTER TABLE timeline.activity_timeline ENABLE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON timeline.activity_timeline
    AS PERMISSIVE FOR ALL TO PUBLIC
    USING (tenant_id = app.verified_tenant())
    WITH CHECK (tenant_id = app.verified_tenant());
    GRANT USAGE ON SCHEMA timeline TO maplatform_app, maplatform_readonly;
    GRANT SELECT ON timeline.activity_timeline TO maplatform_app, maplatform_readonly;
    GRANT INSERT, UPDATE, DELETE ON timeline.activity_timeline TO maplatform_app;

    -- Read-only for everyone but its owner, as before: no policy for writes, no write privilege.
    ALTER TABLE audit.events ENABLE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON audit.events
    AS PERMISSIVE FOR SELECT TO PUBLIC
    USING (tenant_id = app.verified_tenant());
    GRANT USAGE ON SCHEMA audit TO maplatform_app, maplatform_readonly;
    GRANT SELECT ON audit.events TO maplatform_app, maplatform_readonly;

    CREATE FUNCTION timeline.insert_through_view()
    RETURNS TRIGGER
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $f$
    BEGIN
        -- A view written by a trigger has none of the table's column defaults (and Citus refuses to
        -- give a view's column one): the table's default tenant here, so that RETURNING shows it.
        NEW.tenant_id := COALESCE(NEW.tenant_id, app.current_tenant_id());
        -- as the inserting login, under the table's policy: another tenant's row is refused there
        INSERT INTO timeline.activity_timeline (
            time, tenant_id, user_id, deal_id, event_type, event_data, value_impacted, duration_seconds,
            ip_address, user_agent, session_id
        ) VALUES (
            NEW.time, NEW.tenant_id, NEW.user_id, NEW.deal_id, NEW.event_type, NEW.event_data,
            NEW.value_impacted, NEW.duration_seconds, NEW.ip_address, NEW.user_agent, NEW.session_id
        );
        RETURN NEW;
    END
    $f$;
    ALTER FUNCTION timeline.insert_through_view() OWNER TO maplatform_owner;
    REVOKE ALL ON FUNCTION timeline.insert_through_view() FROM PUBLIC;
    COMMENT ON FUNCTION timeline.insert_through_view() IS
        'On Citus: public.activity_timeline''s INSERTs, which Citus does not run through a view over a distributed table';
    CREATE TRIGGER insert_through_view
    INSTEAD OF INSERT ON public.activity_timeline
    FOR EACH ROW EXECUTE FUNCTION timeline.insert_through_view();
END
$$;
