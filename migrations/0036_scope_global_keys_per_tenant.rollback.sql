-- Undoes 0036_scope_global_keys_per_tenant: statements run top to bottom, newest change first. The
-- keys without tenant_id come back, and 0035's indexes with them, as 0035 left them. Adding a global
-- key back builds its index under the lock and fails (23505) if two tenants now share a Clerk id, a
-- token hash or an access code: the rollback cannot restore a guarantee the rows no longer meet
-- (storage keys cannot collide: 0035's CHECK is still there).
SET LOCAL ROLE maplatform_owner;

COMMENT ON COLUMN public.data_rooms.access_code IS 'Code outside parties enter; unique';
COMMENT ON COLUMN public.documents.storage_key IS 'Object key in storage; unique';
COMMENT ON COLUMN public.users.clerk_id IS 'The user''s id at Clerk, the identity provider; unique across tenants';

LOCK TABLE public.users, public.user_sessions, public.documents, public.data_rooms IN ACCESS EXCLUSIVE MODE;

ALTER TABLE public.data_rooms DROP CONSTRAINT idx_datarooms_code,
ADD CONSTRAINT idx_datarooms_code UNIQUE (access_code);
CREATE UNIQUE INDEX data_rooms_tenant_id_access_code_key
ON public.data_rooms (tenant_id, access_code);

ALTER TABLE public.documents DROP CONSTRAINT documents_tenant_id_storage_key_key,
ADD CONSTRAINT documents_storage_key_key UNIQUE (storage_key);
CREATE UNIQUE INDEX documents_tenant_id_storage_key_key
ON public.documents (tenant_id, storage_key);

ALTER TABLE public.user_sessions DROP CONSTRAINT idx_sessions_token,
ADD CONSTRAINT idx_sessions_token UNIQUE (token_hash);
CREATE UNIQUE INDEX user_sessions_tenant_id_token_hash_key
ON public.user_sessions (tenant_id, token_hash);

ALTER TABLE public.users DROP CONSTRAINT idx_users_clerk,
ADD CONSTRAINT idx_users_clerk UNIQUE (clerk_id);
CREATE UNIQUE INDEX users_tenant_id_clerk_id_key
ON public.users (tenant_id, clerk_id);
