-- Build the unique indexes that let three unique keys include tenant_id (0028 makes them the keys).
--
-- Why: a step towards Citus (issue 16, docs/citus.md). Citus refuses a unique constraint without the
-- distribution column (0A000 "cannot create constraint", measured), and three tenant tables have one:
-- deal_team_members (deal_id, user_id), data_room_permissions (data_room_id, user_id) and
-- document_folders (parent_id, name). With tenant_id first they forbid exactly the same rows: a deal,
-- a data room or a parent folder belongs to one tenant (the composite foreign keys), so two rows
-- with the same deal, room or parent have the same tenant. deal_team_members and document_folders
-- are large tables: the indexes are built CONCURRENTLY, outside a transaction, so writes go on, and
-- each statement is idempotent because a run killed half-way resumes here.
-- transactional: false

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS deal_team_members_tenant_id_deal_id_user_id_key
ON public.deal_team_members (tenant_id, deal_id, user_id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS data_room_permissions_tenant_id_data_room_id_user_id_key
ON public.data_room_permissions (tenant_id, data_room_id, user_id);

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS document_folders_tenant_id_parent_id_name_key
ON public.document_folders (tenant_id, parent_id, name);
