-- Undoes 0030_key_tables_by_tenant: statements run top to bottom, newest change first. The primary
-- keys without tenant_id come back, and 0029's indexes with them, as 0029 left them.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.presence DROP CONSTRAINT presence_pkey,
ADD CONSTRAINT presence_pkey PRIMARY KEY (user_id, resource_type, resource_id);
CREATE UNIQUE INDEX presence_tenant_id_user_id_resource_type_resource_id_idx
ON public.presence (tenant_id, user_id, resource_type, resource_id);

ALTER TABLE public.notifications DROP CONSTRAINT notifications_pkey,
ADD CONSTRAINT notifications_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX notifications_tenant_id_id_idx
ON public.notifications (tenant_id, id);

ALTER TABLE public.comments DROP CONSTRAINT comments_pkey,
ADD CONSTRAINT comments_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX comments_tenant_id_id_idx
ON public.comments (tenant_id, id);

ALTER TABLE public.ai_analyses DROP CONSTRAINT ai_analyses_pkey,
ADD CONSTRAINT ai_analyses_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX ai_analyses_tenant_id_id_idx
ON public.ai_analyses (tenant_id, id);

ALTER TABLE public.valuations DROP CONSTRAINT valuations_pkey,
ADD CONSTRAINT valuations_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX valuations_tenant_id_id_idx
ON public.valuations (tenant_id, id);

ALTER TABLE public.tasks DROP CONSTRAINT tasks_pkey,
ADD CONSTRAINT tasks_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX tasks_tenant_id_id_idx
ON public.tasks (tenant_id, id);

ALTER TABLE public.activities_archive DROP CONSTRAINT activities_archive_pkey,
ADD CONSTRAINT activities_archive_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX activities_archive_tenant_id_id_idx
ON public.activities_archive (tenant_id, id);

ALTER TABLE public.activities DROP CONSTRAINT activities_pkey,
ADD CONSTRAINT activities_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX activities_tenant_id_id_idx
ON public.activities (tenant_id, id);

ALTER TABLE public.data_room_permissions DROP CONSTRAINT data_room_permissions_pkey,
ADD CONSTRAINT data_room_permissions_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX data_room_permissions_tenant_id_id_idx
ON public.data_room_permissions (tenant_id, id);

ALTER TABLE public.data_rooms DROP CONSTRAINT data_rooms_pkey,
ADD CONSTRAINT data_rooms_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX data_rooms_tenant_id_id_idx
ON public.data_rooms (tenant_id, id);

ALTER TABLE public.documents DROP CONSTRAINT documents_pkey,
ADD CONSTRAINT documents_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX documents_tenant_id_id_idx
ON public.documents (tenant_id, id);

ALTER TABLE public.document_folders DROP CONSTRAINT document_folders_pkey,
ADD CONSTRAINT document_folders_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX document_folders_tenant_id_id_idx
ON public.document_folders (tenant_id, id);

ALTER TABLE public.deal_team_members DROP CONSTRAINT deal_team_members_pkey,
ADD CONSTRAINT deal_team_members_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX deal_team_members_tenant_id_id_idx
ON public.deal_team_members (tenant_id, id);

ALTER TABLE public.deals DROP CONSTRAINT deals_pkey,
ADD CONSTRAINT deals_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX deals_tenant_id_id_idx
ON public.deals (tenant_id, id);

ALTER TABLE public.pipeline_stages DROP CONSTRAINT pipeline_stages_pkey,
ADD CONSTRAINT pipeline_stages_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX pipeline_stages_tenant_id_id_idx
ON public.pipeline_stages (tenant_id, id);

ALTER TABLE public.user_sessions DROP CONSTRAINT user_sessions_pkey,
ADD CONSTRAINT user_sessions_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX user_sessions_tenant_id_id_idx
ON public.user_sessions (tenant_id, id);

ALTER TABLE public.users DROP CONSTRAINT users_pkey,
ADD CONSTRAINT users_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX users_tenant_id_id_idx
ON public.users (tenant_id, id);
