-- Undoes 0023_create_audit_trail: the audit trail, its triggers, functions and retention job go, and
-- every entry with them.
SET LOCAL ROLE maplatform_owner;

DELETE FROM ops.cron_jobs
WHERE jobname = 'audit_events_retention';
DROP FUNCTION ops.drop_expired_audit_events();
DROP VIEW IF EXISTS public.audit_events;
DROP FUNCTION public.record_document_access(UUID, UUID, TEXT);
DROP FUNCTION public.record_data_room_access(UUID, UUID);
DROP TRIGGER tenant_tokens_audit ON app.tenant_tokens;
DROP TRIGGER data_room_permissions_audit ON public.data_room_permissions;
DROP TABLE audit.events;
DROP FUNCTION audit.tenant_of_call(UUID);
DROP FUNCTION audit.record_tenant_token();
DROP FUNCTION audit.record_permission_change();
DROP FUNCTION audit.actor();
DROP FUNCTION audit.refuse_change();
DROP SCHEMA audit;
