-- Prepare the four global unique keys of the tenant tables to include tenant_id (0036 swaps them in):
-- the CHECK that keeps storage keys unique across tenants without a global index, then the unique
-- indexes on (tenant_id, clerk_id), (tenant_id, token_hash), (tenant_id, storage_key) and
-- (tenant_id, access_code).
--
-- Why: the next step towards Citus (issue 16, docs/citus.md). Citus refuses a unique constraint
-- without the distribution column (0A000 "cannot create constraint", measured) on a distributed
-- table, and users, user_sessions, documents and data_rooms each have one. Every lookup by these
-- columns happens inside a known tenant (under forced row-level security the application can look
-- nothing up across tenants, and no function of the schema does), so they become unique per tenant
-- (docs/deviations.md gives the reasons column by column). tenants' own keys (subdomain,
-- stripe_customer_id) stay global: tenants is the lookup, a reference table on Citus.
-- documents.storage_key must stay unique across tenants (one object, one row, one tenant), so every
-- key must lie under its tenant's prefix, tenants/<tenant_id>/, the form the application's keys (the
-- seed's) have: two tenants' keys then always differ, and UNIQUE (tenant_id, storage_key) is as strong
-- as UNIQUE (storage_key). The CHECK is added NOT VALID (a catalog change under a brief ACCESS
-- EXCLUSIVE lock: from then on every write is checked) and validated in its own statement, hence its
-- own transaction here: VALIDATE scans documents under SHARE UPDATE EXCLUSIVE only, so reads and
-- writes go on. Validated first, so that a database holding a key outside its tenant's prefix stops
-- here before any index is built: the error names the constraint; find the rows with
-- SELECT tenant_id, id, storage_key FROM public.documents
-- WHERE NOT starts_with(storage_key, 'tenants/' || tenant_id || '/'), move the objects (or fix the
-- rows), then migrate again. The indexes are built CONCURRENTLY, outside a transaction (documents is
-- a large table), and each statement is idempotent because a run killed half-way resumes here. Their
-- names, <table>_tenant_id_<column>_key, belong to no index yet (IF NOT EXISTS would skip a name
-- already taken, silently).
-- transactional: false

-- dbtool-lint: ignore squawk/ban-drop-constraint because it drops only the CHECK a killed run added, to add it again
ALTER TABLE public.documents DROP CONSTRAINT IF EXISTS documents_storage_key_is_under_its_tenant,
ADD CONSTRAINT documents_storage_key_is_under_its_tenant
CHECK (starts_with(storage_key, 'tenants/' || tenant_id::TEXT || '/')) NOT VALID;

ALTER TABLE public.documents VALIDATE CONSTRAINT documents_storage_key_is_under_its_tenant;

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_tenant_id_clerk_id_key
ON public.users (tenant_id, clerk_id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS user_sessions_tenant_id_token_hash_key
ON public.user_sessions (tenant_id, token_hash);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS documents_tenant_id_storage_key_key
ON public.documents (tenant_id, storage_key);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS data_rooms_tenant_id_access_code_key
ON public.data_rooms (tenant_id, access_code);
