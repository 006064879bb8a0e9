-- Undoes 0035_prepare_tenant_scoped_keys, concurrently like it, newest change first: statement i
-- here undoes the i-th statement from the end of the forward file.
DROP INDEX CONCURRENTLY IF EXISTS public.data_rooms_tenant_id_access_code_key;

DROP INDEX CONCURRENTLY IF EXISTS public.documents_tenant_id_storage_key_key;

DROP INDEX CONCURRENTLY IF EXISTS public.user_sessions_tenant_id_token_hash_key;

DROP INDEX CONCURRENTLY IF EXISTS public.users_tenant_id_clerk_id_key;

-- A validated constraint cannot be made NOT VALID again: it is added back as the first statement left it.
ALTER TABLE public.documents DROP CONSTRAINT IF EXISTS documents_storage_key_is_under_its_tenant,
ADD CONSTRAINT documents_storage_key_is_under_its_tenant
CHECK (starts_with(storage_key, 'tenants/' || tenant_id::TEXT || '/')) NOT VALID;

ALTER TABLE public.documents DROP CONSTRAINT IF EXISTS documents_storage_key_is_under_its_tenant;
