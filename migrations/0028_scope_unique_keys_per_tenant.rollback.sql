-- Undoes 0028_scope_unique_keys_per_tenant: statements run top to bottom, newest change first. The
-- keys without tenant_id come back, and 0027's indexes with them, as 0027 left them.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.document_folders DROP CONSTRAINT document_folders_tenant_id_parent_id_name_key,
ADD CONSTRAINT document_folders_parent_id_name_key UNIQUE (parent_id, name);
CREATE UNIQUE INDEX document_folders_tenant_id_parent_id_name_key
ON public.document_folders (tenant_id, parent_id, name);

ALTER TABLE public.data_room_permissions DROP CONSTRAINT idx_dr_permissions_room,
ADD CONSTRAINT idx_dr_permissions_room UNIQUE (data_room_id, user_id);
CREATE UNIQUE INDEX data_room_permissions_tenant_id_data_room_id_user_id_key
ON public.data_room_permissions (tenant_id, data_room_id, user_id);

ALTER TABLE public.deal_team_members DROP CONSTRAINT idx_deal_team_deal,
ADD CONSTRAINT idx_deal_team_deal UNIQUE (deal_id, user_id);
CREATE UNIQUE INDEX deal_team_members_tenant_id_deal_id_user_id_key
ON public.deal_team_members (tenant_id, deal_id, user_id);
