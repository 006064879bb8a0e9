-- Undoes 0031_replace_set_null_keys: statements run top to bottom, newest change first. The triggers
-- and their function go, and the six keys come back with ON DELETE SET NULL (column), validated
-- (a scan of each referencing table), as 0006, 0007 and 0009 made them.
SET LOCAL ROLE maplatform_owner;

LOCK TABLE public.users, public.deals, public.document_folders, public.documents, public.activities,
public.activities_archive, public.tasks, timeline.activity_timeline IN ACCESS EXCLUSIVE MODE;

DROP TRIGGER "0_set_null_on_delete" ON public.document_folders;
DROP TRIGGER "0_set_null_on_delete" ON public.deals;
DROP TRIGGER "0_set_null_on_delete" ON public.users;

-- Validated as the migrating superuser (0032 says why: as the owner role the check sees no row of users).
SET LOCAL ROLE NONE;

ALTER TABLE timeline.activity_timeline DROP CONSTRAINT activity_timeline_tenant_id_deal_id_fkey,
ADD CONSTRAINT activity_timeline_tenant_id_deal_id_fkey
FOREIGN KEY (tenant_id, deal_id) REFERENCES public.deals (tenant_id, id) ON DELETE SET NULL (deal_id);

ALTER TABLE timeline.activity_timeline DROP CONSTRAINT activity_timeline_tenant_id_user_id_fkey,
ADD CONSTRAINT activity_timeline_tenant_id_user_id_fkey
FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) ON DELETE SET NULL (user_id);

ALTER TABLE public.tasks DROP CONSTRAINT tasks_tenant_id_assigned_to_fkey,
ADD CONSTRAINT tasks_tenant_id_assigned_to_fkey
FOREIGN KEY (tenant_id, assigned_to) REFERENCES public.users (tenant_id, id) ON DELETE SET NULL (assigned_to);

ALTER TABLE public.activities_archive DROP CONSTRAINT activities_archive_tenant_id_user_id_fkey,
ADD CONSTRAINT activities_archive_tenant_id_user_id_fkey
FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) ON DELETE SET NULL (user_id);

ALTER TABLE public.activities DROP CONSTRAINT activities_tenant_id_user_id_fkey,
ADD CONSTRAINT activities_tenant_id_user_id_fkey
FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) ON DELETE SET NULL (user_id);

ALTER TABLE public.documents DROP CONSTRAINT documents_tenant_id_folder_id_fkey,
ADD CONSTRAINT documents_tenant_id_folder_id_fkey
FOREIGN KEY (tenant_id, folder_id) REFERENCES public.document_folders (tenant_id, id) ON DELETE SET NULL (folder_id);

SET LOCAL ROLE maplatform_owner;

REVOKE UPDATE (user_id, deal_id) ON timeline.activity_timeline FROM maplatform_maintenance;
REVOKE UPDATE (folder_id) ON public.documents FROM maplatform_maintenance;
REVOKE SELECT (tenant_id, id, assigned_to), UPDATE (assigned_to) ON public.tasks FROM maplatform_maintenance;
REVOKE UPDATE (user_id) ON public.activities, public.activities_archive FROM maplatform_maintenance;

DROP FUNCTION ops.set_null_on_delete();
