-- Validate the two CHECK constraints 0024 added on the secret columns.
--
-- Why: 0024 adds them NOT VALID, so that adding them takes no scan under an ACCESS EXCLUSIVE lock.
-- VALIDATE CONSTRAINT, in its own transaction, scans each table under a SHARE UPDATE EXCLUSIVE lock
-- only, so reads and writes go on while it runs. A row written before 0024 that holds key material
-- or a raw token fails here, naming the constraint: fix the row (re-encrypt under a KMS key, or
-- delete the session), then migrate again.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.documents VALIDATE CONSTRAINT documents_encryption_key_is_a_key_reference;
ALTER TABLE public.user_sessions VALIDATE CONSTRAINT user_sessions_token_hash_is_sha256;
