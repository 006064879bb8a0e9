-- Undoes 0014_validate_documents_locked_by: a validated constraint cannot be marked NOT VALID
-- again, so it is re-created NOT VALID (no scan), as 0013 left it.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.documents
DROP CONSTRAINT documents_tenant_id_locked_by_fkey,
ADD CONSTRAINT documents_tenant_id_locked_by_fkey
FOREIGN KEY (tenant_id, locked_by) REFERENCES public.users (tenant_id, id) NOT VALID;
