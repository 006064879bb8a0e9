-- Undoes 0029_create_tenant_primary_key_indexes, concurrently like it, newest change first: statement i
-- here undoes the i-th statement from the end of the forward file.
DROP INDEX CONCURRENTLY IF EXISTS public.presence_tenant_id_user_id_resource_type_resource_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.notifications_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.comments_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.ai_analyses_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.valuations_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.tasks_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.activities_archive_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.activities_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.data_room_permissions_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.data_rooms_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.documents_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.document_folders_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.deal_team_members_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.deals_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.pipeline_stages_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.user_sessions_tenant_id_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.users_tenant_id_id_idx;
