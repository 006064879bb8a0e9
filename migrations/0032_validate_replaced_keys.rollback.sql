-- Undoes 0032_validate_replaced_keys: a validated constraint cannot be marked NOT VALID again, so
-- each key is re-created NOT VALID (no scan), as 0031 left it; newest first.
SET LOCAL ROLE maplatform_owner;

LOCK TABLE public.users, public.document_folders, public.documents, public.activities, public.activities_archive,
public.tasks IN ACCESS EXCLUSIVE MODE;

ALTER TABLE public.activities DROP CONSTRAINT activities_tenant_id_user_id_fkey,
ADD CONSTRAINT activities_tenant_id_user_id_fkey
FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) NOT VALID;

ALTER TABLE public.activities_archive DROP CONSTRAINT activities_archive_tenant_id_user_id_fkey,
ADD CONSTRAINT activities_archive_tenant_id_user_id_fkey
FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) NOT VALID;

ALTER TABLE public.tasks DROP CONSTRAINT tasks_tenant_id_assigned_to_fkey,
ADD CONSTRAINT tasks_tenant_id_assigned_to_fkey
FOREIGN KEY (tenant_id, assigned_to) REFERENCES public.users (tenant_id, id) NOT VALID;

ALTER TABLE public.documents DROP CONSTRAINT documents_tenant_id_folder_id_fkey,
ADD CONSTRAINT documents_tenant_id_folder_id_fkey
FOREIGN KEY (tenant_id, folder_id) REFERENCES public.document_folders (tenant_id, id) NOT VALID;
