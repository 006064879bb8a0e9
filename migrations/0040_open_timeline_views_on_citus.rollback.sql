-- Undoes 0040_open_timeline_views_on_citus: on a Citus coordinator the timeline and the audit trail
-- are again reachable through their views only (which then fail there, 42501 on the workers); on plain
-- PostgreSQL nothing happens, as 0040 changed nothing there.
-- dbtool-lint: ignore owner-role because it changes tables of two owners, one of which nobody can act as
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    DROP TRIGGER insert_through_view ON public.activity_timeline;
    DROP FUNCTION timeline.insert_through_view();

    REVOKE SELECT ON audit.events FROM maplatform_app, maplatform_readonly;
    REVOKE USAGE ON SCHEMA audit FROM maplatform_app, maplatform_readonly;
    DROP POLICY tenant_isolation ON audit.events;
    ALTER TABLE audit.events DISABLE ROW LEVEL SECURITY;

    REVOKE INSERT, UPDATE, DELETE ON timeline.activity_timeline FROM maplatform_app;
    REVOKE SELECT ON timeline.activity_timeline FROM maplatform_app, maplatform_readonly;
    REVOKE USAGE ON SCHEMA timeline FROM maplatform_app, maplatform_readonly;
    DROP POLICY tenant_isolation ON timeline.activity_timeline;
    ALTER TABLE timeline.activity_timeline DISABLE ROW LEVEL SECURITY;
END
$$;
