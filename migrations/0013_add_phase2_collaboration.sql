-- Phase 2: document locking, real-time presence, comments and notifications; tenant settings
-- move to version 2.0.0.
--
-- Why: the collaboration features of Phase 2 (the document's 2025_01_phase2_features.sql). As a
-- versioned migration it knows the state it runs on, so no IF NOT EXISTS, and no BEGIN/COMMIT
-- (dbtool runs it in one transaction with its record). Isolation as everywhere else: presence and
-- notifications get a tenant_id, every reference is a composite foreign key, comments.mentions is
-- checked by statement triggers, and the polymorphic references (comments.commentable_*,
-- presence.resource_*, notifications.resource_*) are checked by a statement trigger against
-- app.resource_types, which names the table behind each resource type.
-- The settings update must reach every tenant, but the owner role sees no tenant rows under
-- forced row-level security; the one statement runs as maplatform_maintenance (BYPASSRLS), which
-- is given exactly the column privileges it needs for the statement and loses them right after.
-- The default settings of new tenants carry the version too, so old and new tenants agree.
SET LOCAL ROLE maplatform_owner;

CREATE TABLE app.resource_types (
    resource_type VARCHAR(50) PRIMARY KEY,
    table_name REGCLASS NOT NULL
);
COMMENT ON TABLE app.resource_types IS
    'Resource types a polymorphic reference may name, and the table (with tenant_id, id) each one points at';
GRANT SELECT ON app.resource_types TO maplatform_app, maplatform_readonly, maplatform_maintenance;

-- Polymorphic references cannot carry a foreign key. Arguments: the type column and the id column.
-- All rows of the statement are checked with one query per resource type in it.
CREATE FUNCTION app.enforce_same_tenant_resource()
RETURNS TRIGGER
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    type_column TEXT := TG_ARGV[0];
    id_column TEXT := TG_ARGV[1];
    kind_type TEXT;
    kind_table REGCLASS;
    offending TEXT;
BEGIN
    FOR kind_type, kind_table IN EXECUTE format(
        $q$SELECT DISTINCT n.%1$I::TEXT AS resource_type, r.table_name
           FROM new_rows AS n LEFT JOIN app.resource_types AS r ON r.resource_type = n.%1$I
           WHERE n.%2$I IS NOT NULL$q$, type_column, id_column)
    LOOP
        IF kind_table IS NULL THEN
            RAISE EXCEPTION 'insert or update on table "%" violates same-tenant reference "%"', TG_TABLE_NAME, id_column
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('%s %s is not a known resource type.', type_column,
                                      coalesce(quote_literal(kind_type), 'NULL')),
                      HINT = 'app.resource_types lists the resource types: '
                             || (SELECT string_agg(resource_type, ', ' ORDER BY resource_type) FROM app.resource_types),
                      TABLE = TG_TABLE_NAME, COLUMN = type_column;
        END IF;
        EXECUTE format(
            $q$SELECT n.%2$I::TEXT
               FROM new_rows AS n
               WHERE n.%1$I = $1 AND n.%2$I IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM %3$s AS t WHERE t.tenant_id = n.tenant_id AND t.id = n.%2$I)
               LIMIT 1$q$, type_column, id_column, kind_table)
        USING kind_type
        INTO offending;
        IF offending IS NOT NULL THEN
            RAISE EXCEPTION 'insert or update on table "%" violates same-tenant reference "%"', TG_TABLE_NAME, id_column
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('%s %s is not the id of a %s of the same tenant.', id_column, offending,
                                      kind_type),
                      TABLE = TG_TABLE_NAME, COLUMN = id_column;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION app.enforce_same_tenant_resource() IS
    'AFTER INSERT/UPDATE statement trigger (transition table new_rows): '
    '(TG_ARGV[0], TG_ARGV[1]) names a row of the same tenant';

-- Add real-time presence tracking
CREATE TABLE public.presence (
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,
    user_id UUID,
    resource_type VARCHAR(50) NOT NULL,
    resource_id UUID NOT NULL,
    cursor_position JSONB,
    selection JSONB,
    last_ping TIMESTAMPTZ DEFAULT now(),

    PRIMARY KEY (user_id, resource_type, resource_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_presence_resource ON public.presence (resource_type, resource_id);
CREATE INDEX idx_presence_tenant_user ON public.presence (tenant_id, user_id);
CREATE TRIGGER presence_resource_same_tenant_insert AFTER INSERT ON public.presence
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_resource('resource_type', 'resource_id');
CREATE TRIGGER presence_resource_same_tenant_update AFTER UPDATE ON public.presence
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_resource('resource_type', 'resource_id');
ALTER TABLE public.presence ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.presence FORCE ROW LEVEL SECURITY;

-- Add commenting system
CREATE TABLE public.comments (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,

    -- Polymorphic association
    commentable_type VARCHAR(50) NOT NULL,
    commentable_id UUID NOT NULL,

    -- Comment data
    user_id UUID,
    parent_id UUID,
    content TEXT NOT NULL,

    -- Status
    resolved BOOLEAN DEFAULT FALSE,
    resolved_by UUID,
    resolved_at TIMESTAMPTZ,

    -- Metadata
    mentions UUID[] DEFAULT '{}',
    reactions JSONB DEFAULT '{}'::JSONB,

    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now(),
    edited_at TIMESTAMPTZ,

    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, parent_id) REFERENCES public.comments (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, resolved_by) REFERENCES public.users (tenant_id, id)
);
CREATE INDEX idx_comments_commentable ON public.comments (commentable_type, commentable_id);
CREATE INDEX idx_comments_parent ON public.comments (parent_id);
CREATE INDEX idx_comments_user ON public.comments (user_id);
CREATE TRIGGER comments_touch_updated_at BEFORE UPDATE ON public.comments
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
CREATE TRIGGER comments_mentions_same_tenant_insert AFTER INSERT ON public.comments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('mentions', 'public.users');
CREATE TRIGGER comments_mentions_same_tenant_update AFTER UPDATE ON public.comments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('mentions', 'public.users');
CREATE TRIGGER comments_commentable_same_tenant_insert AFTER INSERT ON public.comments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_resource('commentable_type', 'commentable_id');
CREATE TRIGGER comments_commentable_same_tenant_update AFTER UPDATE ON public.comments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_resource('commentable_type', 'commentable_id');
ALTER TABLE public.comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.comments FORCE ROW LEVEL SECURITY;

-- Add notifications
CREATE TABLE public.notifications (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,
    user_id UUID,

    -- Notification data
    type VARCHAR(50) NOT NULL,
    title VARCHAR(255) NOT NULL,
    message TEXT,

    -- Context
    resource_type VARCHAR(50),
    resource_id UUID,
    action_url VARCHAR(500),

    -- Status
    read BOOLEAN DEFAULT FALSE,
    read_at TIMESTAMPTZ,

    -- Delivery
    channels TEXT[] DEFAULT '{in_app}',
    delivered_at JSONB DEFAULT '{}'::JSONB,

    created_at TIMESTAMPTZ DEFAULT now(),
    expires_at TIMESTAMPTZ,

    FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_notifications_user_unread ON public.notifications (user_id, read) WHERE read = FALSE;
CREATE INDEX idx_notifications_created ON public.notifications (tenant_id, created_at DESC);
CREATE TRIGGER notifications_resource_same_tenant_insert AFTER INSERT ON public.notifications
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_resource('resource_type', 'resource_id');
CREATE TRIGGER notifications_resource_same_tenant_update AFTER UPDATE ON public.notifications
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_resource('resource_type', 'resource_id');
ALTER TABLE public.notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.notifications FORCE ROW LEVEL SECURITY;

INSERT INTO app.resource_types (resource_type, table_name) VALUES
('activity', 'public.activities'),
('ai_analysis', 'public.ai_analyses'),
('comment', 'public.comments'),
('data_room', 'public.data_rooms'),
('deal', 'public.deals'),
('document', 'public.documents'),
('document_folder', 'public.document_folders'),
('task', 'public.tasks'),
('user', 'public.users'),
('valuation', 'public.valuations');

-- Update version
ALTER TABLE public.tenants ALTER COLUMN settings SET DEFAULT '{
        "features": {
            "ai_analysis": true,
            "data_rooms": true,
            "api_access": false
        },
        "limits": {
            "users": 5,
            "deals": 100,
            "storage_gb": 10
        },
        "version": "2.0.0"
    }'::JSONB;
GRANT SELECT (settings), UPDATE (settings) ON public.tenants TO maplatform_maintenance;
SET LOCAL ROLE maplatform_maintenance;
UPDATE public.tenants SET settings = jsonb_set(settings, '{version}', '"2.0.0"'::JSONB);
SET LOCAL ROLE maplatform_owner;
REVOKE SELECT (settings), UPDATE (settings) ON public.tenants FROM maplatform_maintenance;

-- Last, so that the ACCESS EXCLUSIVE lock on documents is held only from here to the commit, not
-- through the tables, triggers and the every-tenant update above.
-- NOT VALID: enforced for every new write at once, without scanning documents under that lock;
-- 0014 validates it under a lock that lets the application work.
ALTER TABLE public.documents
ADD COLUMN locked_by UUID,
ADD COLUMN locked_at TIMESTAMPTZ,
ADD CONSTRAINT documents_tenant_id_locked_by_fkey
FOREIGN KEY (tenant_id, locked_by) REFERENCES public.users (tenant_id, id) NOT VALID;
