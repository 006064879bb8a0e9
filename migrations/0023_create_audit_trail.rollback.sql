-- Undoes 0023_create_audit_trail: the audit trail, its triggers, functions and retention job go, and
-- every entry with them; the owner role gets TimescaleDB's drop_chunk back, as 0016 left it; the
-- trail's role is dropped unless another database of the cluster still uses it (as 0002 does).
-- dbtool-lint: ignore owner-role because the trail belongs to a role of its own, which only a superuser can drop
DELETE FROM ops.cron_jobs
WHERE jobname = 'audit_events_retention';
DROP VIEW IF EXISTS public.audit_events;
DROP TRIGGER tenant_tokens_audit ON app.tenant_tokens;
DROP TRIGGER data_room_permissions_audit ON public.data_room_permissions;
DROP FUNCTION public.record_document_access(UUID, UUID, TEXT);
DROP FUNCTION public.record_data_room_access(UUID, UUID);
DROP TABLE audit.events;
DROP FUNCTION audit.drop_expired_events();
DROP FUNCTION audit.tenant_of_call(UUID);
DROP FUNCTION audit.record_tenant_token();
DROP FUNCTION audit.record_permission_change();
DROP FUNCTION audit.actor(UUID);
DROP FUNCTION audit.refuse_change();
DROP SCHEMA audit;
REVOKE SELECT ON public.users, public.data_rooms, public.documents FROM maplatform_audit_owner;
REVOKE EXECUTE ON FUNCTION app.verified_tenant(), app.current_tenant_id() FROM maplatform_audit_owner;
REVOKE USAGE ON SCHEMA app FROM maplatform_audit_owner;

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
            EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE %s TO maplatform_owner', routine);
        ELSE
            EXECUTE pg_catalog.format('REVOKE EXECUTE ON ROUTINE %s FROM maplatform_audit_owner', routine);
        END IF;
    END LOOP;
END
$$;

DO $$
BEGIN
    DROP ROLE maplatform_audit_owner;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'role maplatform_audit_owner is still used (by another database of this cluster); kept';
END
$$;
