-- Make the three unique keys without tenant_id per tenant, on the indexes 0027 built.
--
-- Why: Citus refuses a unique constraint without the distribution column (issue 16, docs/citus.md).
-- Each key is dropped and added again in one statement, USING the index 0027 built: a catalog change
-- under a brief ACCESS EXCLUSIVE lock, no index build and no scan. The rows they allow are the same
-- (0027 says why); the names the architecture document gives (idx_deal_team_deal,
-- idx_dr_permissions_room) stay on their keys. A lookup by deal or data room alone, without the
-- tenant, no longer finds an index that starts with it; under row-level security every query names
-- the tenant (docs/deviations.md).
SET LOCAL ROLE maplatform_owner;

-- The application's order: the deal's team, then the data room's permissions, then the folders.
LOCK TABLE public.deal_team_members, public.data_room_permissions, public.document_folders IN ACCESS EXCLUSIVE MODE;

-- dbtool-lint: ignore squawk/ban-drop-constraint because the same statement adds the key back, with tenant_id
ALTER TABLE public.deal_team_members DROP CONSTRAINT idx_deal_team_deal,
ADD CONSTRAINT idx_deal_team_deal UNIQUE USING INDEX deal_team_members_tenant_id_deal_id_user_id_key;

-- dbtool-lint: ignore squawk/ban-drop-constraint because the same statement adds the key back, with tenant_id
ALTER TABLE public.data_room_permissions DROP CONSTRAINT idx_dr_permissions_room,
ADD CONSTRAINT idx_dr_permissions_room UNIQUE USING INDEX data_room_permissions_tenant_id_data_room_id_user_id_key;

-- dbtool-lint: ignore squawk/ban-drop-constraint because the same statement adds the key back, with tenant_id
ALTER TABLE public.document_folders DROP CONSTRAINT document_folders_parent_id_name_key,
ADD CONSTRAINT document_folders_tenant_id_parent_id_name_key
UNIQUE USING INDEX document_folders_tenant_id_parent_id_name_key;
