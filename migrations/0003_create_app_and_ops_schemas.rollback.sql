-- Undoes 0003_create_app_and_ops_schemas: statements run top to bottom, newest change first.
-- The repeatable views in ops (sql/views/ops.*.sql) stand on this schema: they go first.
SET LOCAL ROLE maplatform_owner;

DROP VIEW IF EXISTS ops.timescaledb_capabilities;
DROP VIEW IF EXISTS ops.connection_stats;
DROP VIEW IF EXISTS ops.table_bloat;
DROP VIEW IF EXISTS ops.slow_queries;

DROP FUNCTION app.enforce_same_tenant_ids();
DROP FUNCTION app.touch_updated_at();
DROP FUNCTION public.set_tenant_context_for_session(UUID);
DROP FUNCTION public.set_tenant_context(UUID);
DROP FUNCTION app.current_tenant_id();
DROP TABLE ops.cron_jobs;

ALTER DEFAULT PRIVILEGES FOR ROLE maplatform_owner IN SCHEMA ops
    REVOKE SELECT ON TABLES FROM maplatform_ops;
ALTER DEFAULT PRIVILEGES FOR ROLE maplatform_owner IN SCHEMA public
    REVOKE USAGE, SELECT ON SEQUENCES FROM maplatform_app;
ALTER DEFAULT PRIVILEGES FOR ROLE maplatform_owner IN SCHEMA public
    REVOKE SELECT ON TABLES FROM maplatform_readonly;
ALTER DEFAULT PRIVILEGES FOR ROLE maplatform_owner IN SCHEMA public
    REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM maplatform_app;
ALTER DEFAULT PRIVILEGES FOR ROLE maplatform_owner GRANT EXECUTE ON FUNCTIONS TO PUBLIC;

DROP SCHEMA ops;
DROP SCHEMA app;
