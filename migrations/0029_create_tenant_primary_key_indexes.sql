-- Build the unique indexes on (tenant_id, <key>) that 0030 makes the primary keys of the tenant tables.
--
-- Why: the next step towards Citus (issue 16, docs/citus.md). Citus refuses a primary key without the
-- distribution column (0A000 "cannot create constraint", measured), and every tenant table but tenants
-- itself is keyed by id alone (presence by (user_id, resource_type, resource_id)). The tables come from
-- the catalog of head: every table with a tenant_id column and a primary key, in every schema of the
-- application; app.tenant_tokens (keyed by its token hash, a reference table in the plan), tenants
-- (keyed by id, which is the tenant) and the two hypertables (no primary key) are left alone. Six
-- tables (users, deals, document_folders, documents, data_rooms, comments) already have a UNIQUE
-- (tenant_id, id) constraint: the composite foreign keys use its index, so the primary key gets an index
-- of its own and that constraint stays until a later clean-up re-points the keys (the plan's 0030 row).
-- Several are large tables: the indexes are built CONCURRENTLY, outside a transaction, so writes go
-- on, and each statement is idempotent because a run killed half-way resumes here. The names are
-- PostgreSQL's default index names, which no constraint of these tables uses.
-- transactional: false

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_tenant_id_id_idx
ON public.users (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS user_sessions_tenant_id_id_idx
ON public.user_sessions (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS pipeline_stages_tenant_id_id_idx
ON public.pipeline_stages (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS deals_tenant_id_id_idx
ON public.deals (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS deal_team_members_tenant_id_id_idx
ON public.deal_team_members (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS document_folders_tenant_id_id_idx
ON public.document_folders (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS documents_tenant_id_id_idx
ON public.documents (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS data_rooms_tenant_id_id_idx
ON public.data_rooms (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS data_room_permissions_tenant_id_id_idx
ON public.data_room_permissions (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS activities_tenant_id_id_idx
ON public.activities (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS activities_archive_tenant_id_id_idx
ON public.activities_archive (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS tasks_tenant_id_id_idx
ON public.tasks (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS valuations_tenant_id_id_idx
ON public.valuations (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ai_analyses_tenant_id_id_idx
ON public.ai_analyses (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS comments_tenant_id_id_idx
ON public.comments (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS notifications_tenant_id_id_idx
ON public.notifications (tenant_id, id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS presence_tenant_id_user_id_resource_type_resource_id_idx
ON public.presence (tenant_id, user_id, resource_type, resource_id);
