-- Undoes 0013_add_phase2_collaboration: statements run top to bottom, newest change first.
-- Before Phase 2 the settings had no version key (the document's rollback writes "1.0.0", which
-- no tenant ever had): the exact undo removes the key. As in the forward migration, the statement
-- that must reach every tenant runs as maplatform_maintenance.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.documents
DROP CONSTRAINT documents_tenant_id_locked_by_fkey,
DROP COLUMN locked_at,
DROP COLUMN locked_by;

GRANT SELECT (settings), UPDATE (settings) ON public.tenants TO maplatform_maintenance;
SET LOCAL ROLE maplatform_maintenance;
UPDATE public.tenants SET settings = settings - 'version'
WHERE settings ? 'version';
SET LOCAL ROLE maplatform_owner;
REVOKE SELECT (settings), UPDATE (settings) ON public.tenants FROM maplatform_maintenance;
ALTER TABLE public.tenants ALTER COLUMN settings SET DEFAULT '{
        "features": {
            "ai_analysis": true,
            "data_rooms": true,
            "api_access": false
        },
        "limits": {
            "users": 5,
            "deals": 100,
            "storage_gb": 10
        }
    }'::JSONB;

DROP TABLE public.notifications;
DROP TABLE public.comments;
DROP TABLE public.presence;
DROP FUNCTION app.enforce_same_tenant_resource();
DROP TABLE app.resource_types;
