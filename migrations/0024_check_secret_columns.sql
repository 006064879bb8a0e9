-- Hold no usable secret in plain text: documents.encryption_key names the key that encrypts a
-- document (a key of an external key management service), and user_sessions.token_hash is a
-- SHA-256 digest, never the session token itself.
--
-- Why: the architecture document's "Compliance: encryption" (issue 20). Its encryption_key column
-- would put each document's key next to the document's metadata, in every backup and replica, for
-- any role that reads documents. The decision (docs/deviations.md, docs/audit.md "Secrets"): the
-- storage service encrypts each object under a KMS key (envelope encryption: the data key is stored
-- wrapped with the object), and the column holds only that KMS key's name, which is no secret; the
-- database never sees key material. The CHECK refuses anything else: a hex or base64 key written by
-- mistake fails. The session table's column is named a hash; its CHECK makes it one, so a raw
-- bearer token (usable by whoever reads the table or a backup) cannot be stored. Both are added NOT
-- VALID (no scan of documents under ACCESS EXCLUSIVE); 0025 validates them in its own transaction.
-- Other secrets, reviewed: tenants.stripe_* are identifiers (useless without Stripe's API key, which
-- the application holds); app_private.tenant_keys.secret must be usable by the database (it checks
-- token signatures), so only the owner's functions read it (0017) and backups are gpg-encrypted.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.documents ADD CONSTRAINT documents_encryption_key_is_a_key_reference CHECK (
    encryption_key IS NULL
    OR encryption_key ~ '^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+$'
    OR encryption_key ~ '^projects/[a-z0-9-]+/locations/[a-z0-9-]+/keyRings/[A-Za-z0-9_-]+/cryptoKeys/[A-Za-z0-9_-]+$'
    OR encryption_key ~ '^https://[a-z0-9-]+\.vault\.azure\.net/keys/[A-Za-z0-9-]+(/[0-9a-f]{32})?$'
    OR encryption_key ~ '^vault:[a-z0-9_-]+/keys/[A-Za-z0-9_-]+$'
) NOT VALID;
COMMENT ON COLUMN public.documents.encryption_key IS
    'The KMS key that encrypts the stored object (AWS KMS ARN, GCP key name, Azure Key Vault key URL or '
    'vault:<mount>/keys/<name>); never key material';

ALTER TABLE public.user_sessions ADD CONSTRAINT user_sessions_token_hash_is_sha256 CHECK (
    token_hash ~ '^[0-9a-f]{64}$'
) NOT VALID;
COMMENT ON COLUMN public.user_sessions.token_hash IS
    'SHA-256 of the session token, 64 lowercase hex digits: the token itself is never stored';
