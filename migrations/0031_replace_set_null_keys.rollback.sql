-- Undoes 0031_replace_set_null_keys: statements run top to bottom, newest change first. The triggers
-- and their function go, and the four keys come back with ON DELETE SET NULL (column), validated
-- (a scan of each referencing table), as 0006 and 0007 made them.
SET LOCAL ROLE maplatform_owner;

LOCK TABLE public.users, public.document_folders, public.documents, public.activities, public.activities_archive,
public.tasks IN ACCESS EXCLUSIVE MODE;

DROP TRIGGER "0_set_null_on_delete" ON public.document_folders;
DROP TRIGGER "0_set_null_on_delete" ON public.deals;
DROP TRIGGER "0_set_null_on_delete" ON public.users;

-- Validated as the migrating superuser (0032 says why: as the owner role the check sees no row of users).
SET LOCAL ROLE NONE;

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

REVOKE UPDATE ON timeline.activity_timeline FROM maplatform_maintenance;
REVOKE UPDATE (folder_id) ON public.documents FROM maplatform_maintenance;
REVOKE SELECT (tenant_id, id, assigned_to), UPDATE (assigned_to) ON public.tasks FROM maplatform_maintenance;
REVOKE UPDATE (user_id) ON public.activities, public.activities_archive FROM maplatform_maintenance;

DROP FUNCTION ops.set_null_on_delete();
