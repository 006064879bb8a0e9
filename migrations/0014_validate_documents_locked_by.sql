-- Validate the foreign key Phase 2 added on documents.locked_by.
--
-- Why: 0013 adds the constraint NOT VALID so that adding it takes no scan of documents under an
-- ACCESS EXCLUSIVE lock. VALIDATE CONSTRAINT, in its own transaction, scans documents under a
-- SHARE UPDATE EXCLUSIVE lock only, so reads and writes go on while it runs. Every locked_by is
-- NULL or was checked on write since 0013, so it cannot fail.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.documents VALIDATE CONSTRAINT documents_tenant_id_locked_by_fkey;
