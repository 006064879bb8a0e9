-- Undoes 0024_check_secret_columns: the two CHECK constraints go, and the columns' comments are
-- those of 0020 again.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.user_sessions DROP CONSTRAINT user_sessions_token_hash_is_sha256;
COMMENT ON COLUMN public.user_sessions.token_hash IS
    'SHA-256 (hex) of the session token: the token itself is never stored; unique';
ALTER TABLE public.documents DROP CONSTRAINT documents_encryption_key_is_a_key_reference;
COMMENT ON COLUMN public.documents.encryption_key IS
    'Reference to the key the file is encrypted with (not the key itself)';
