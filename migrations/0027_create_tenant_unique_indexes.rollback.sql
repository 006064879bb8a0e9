-- Undoes 0027_create_tenant_unique_indexes, concurrently like it, newest change first: statement i
-- here undoes the i-th statement from the end of the forward file.
DROP INDEX CONCURRENTLY IF EXISTS public.document_folders_tenant_id_parent_id_name_key;

DROP INDEX CONCURRENTLY IF EXISTS public.data_room_permissions_tenant_id_data_room_id_user_id_key;

DROP INDEX CONCURRENTLY IF EXISTS public.deal_team_members_tenant_id_deal_id_user_id_key;
