-- Undoes 0025_validate_secret_columns: a validated constraint cannot be made NOT VALID again, so the
-- constraints are re-added as 0024 left them.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.documents
DROP CONSTRAINT documents_encryption_key_is_a_key_reference,
ADD CONSTRAINT documents_encryption_key_is_a_key_reference CHECK (
    encryption_key IS NULL
    OR encryption_key ~ '^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+$'
    OR encryption_key ~ '^projects/[a-z0-9-]+/locations/[a-z0-9-]+/keyRings/[A-Za-z0-9_-]+/cryptoKeys/[A-Za-z0-9_-]+$'
    OR encryption_key ~ '^https://[a-z0-9-]+\.vault\.azure\.net/keys/[A-Za-z0-9-]+(/[0-9a-f]{32})?$'
    OR encryption_key ~ '^vault:[a-z0-9_-]+/keys/[A-Za-z0-9_-]+$'
) NOT VALID;
ALTER TABLE public.user_sessions
DROP CONSTRAINT user_sessions_token_hash_is_sha256,
ADD CONSTRAINT user_sessions_token_hash_is_sha256 CHECK (
    token_hash ~ '^[0-9a-f]{64}$'
) NOT VALID;
