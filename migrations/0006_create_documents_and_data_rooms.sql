-- Create document_folders, documents, data_rooms and data_room_permissions, with row-level
-- security enabled and forced.
--
-- Why: documents and virtual data rooms hold the most sensitive tenant data. Folders come before
-- documents (the document creates them the other way round, which fails). Every reference is a
-- composite foreign key (tenant_id, x_id), so a document cannot sit in another tenant's folder;
-- documents.folder_id uses PostgreSQL 15's ON DELETE SET NULL (folder_id), which clears only the
-- folder and keeps the tenant. data_room_permissions gets a tenant_id; its folder arrays are
-- checked by statement triggers. The embeddings index is HNSW, not IVFFlat: IVFFlat trains its
-- lists on the rows present when it is built, and here it would be built on an empty table.
-- The listing index leads with tenant_id; the GIN indexes stay on their column (see 0005).
SET LOCAL ROLE maplatform_owner;

CREATE TABLE public.document_folders (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,
    deal_id UUID,
    parent_id UUID,

    name VARCHAR(255) NOT NULL,
    path TEXT NOT NULL, -- Materialized path
    depth INTEGER NOT NULL DEFAULT 0,

    permissions JSONB DEFAULT '{}'::JSONB,

    created_by UUID,
    created_at TIMESTAMPTZ DEFAULT now(),

    UNIQUE (parent_id, name),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, deal_id) REFERENCES public.deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, parent_id) REFERENCES public.document_folders (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, created_by) REFERENCES public.users (tenant_id, id)
);
CREATE INDEX idx_folders_deal ON public.document_folders (deal_id);
CREATE INDEX idx_folders_path ON public.document_folders (tenant_id, path text_pattern_ops);
ALTER TABLE public.document_folders ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.document_folders FORCE ROW LEVEL SECURITY;

CREATE TABLE public.documents (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,

    -- Associations
    deal_id UUID,
    folder_id UUID,

    -- File info
    name VARCHAR(255) NOT NULL,
    display_name VARCHAR(255),
    mime_type VARCHAR(100),
    size_bytes BIGINT,

    -- Storage
    storage_key VARCHAR(500) NOT NULL UNIQUE,
    storage_bucket VARCHAR(100),
    cdn_url VARCHAR(500),

    -- Versioning
    version INTEGER DEFAULT 1,
    parent_version_id UUID,
    is_latest BOOLEAN DEFAULT TRUE,

    -- Security
    encryption_key VARCHAR(255),
    checksum VARCHAR(64),
    virus_scanned BOOLEAN DEFAULT FALSE,
    virus_scan_result JSONB,

    -- AI Processing
    ai_processed BOOLEAN DEFAULT FALSE,
    ai_summary TEXT,
    ai_entities JSONB,
    ai_risk_flags JSONB,
    embeddings public.VECTOR(1536), -- OpenAI embeddings

    -- Metadata
    tags TEXT[] DEFAULT '{}',
    custom_metadata JSONB DEFAULT '{}'::JSONB,

    -- Audit
    uploaded_by UUID,
    uploaded_at TIMESTAMPTZ DEFAULT now(),
    last_accessed_at TIMESTAMPTZ,
    access_count INTEGER DEFAULT 0,

    -- Full-text search
    search_vector TSVECTOR GENERATED ALWAYS AS (
        setweight(to_tsvector('english', COALESCE(display_name, name)), 'A')
        || setweight(to_tsvector('english', COALESCE(ai_summary, '')), 'B')
    ) STORED,

    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, deal_id) REFERENCES public.deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, folder_id) REFERENCES public.document_folders (tenant_id, id)
        ON DELETE SET NULL (folder_id),
    FOREIGN KEY (tenant_id, parent_version_id) REFERENCES public.documents (tenant_id, id),
    FOREIGN KEY (tenant_id, uploaded_by) REFERENCES public.users (tenant_id, id)
);
CREATE INDEX idx_documents_deal ON public.documents (deal_id);
CREATE INDEX idx_documents_folder ON public.documents (folder_id);
CREATE INDEX idx_documents_latest ON public.documents (tenant_id, is_latest) WHERE is_latest = TRUE;
CREATE INDEX idx_documents_search ON public.documents USING GIN (search_vector);
CREATE INDEX idx_documents_embeddings ON public.documents USING HNSW (embeddings public.vector_cosine_ops);
CREATE INDEX idx_documents_tags ON public.documents USING GIN (tags);
ALTER TABLE public.documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.documents FORCE ROW LEVEL SECURITY;
-- maplatform_maintenance (BYPASSRLS) reads documents for search_documents().
GRANT SELECT ON public.documents TO maplatform_maintenance;

CREATE TABLE public.data_rooms (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,
    deal_id UUID,

    -- Configuration
    name VARCHAR(255) NOT NULL,
    description TEXT,

    -- Security settings
    settings JSONB DEFAULT '{
        "watermarking": true,
        "download_enabled": false,
        "print_enabled": false,
        "expiry_date": null,
        "nda_required": true,
        "ip_restrictions": []
    }'::JSONB,

    -- Access
    access_code VARCHAR(20),
    is_active BOOLEAN DEFAULT TRUE,
    expires_at TIMESTAMPTZ,

    -- Statistics
    stats JSONB DEFAULT '{
        "total_views": 0,
        "unique_visitors": 0,
        "documents_downloaded": 0,
        "avg_time_spent": 0
    }'::JSONB,

    -- Audit
    created_by UUID,
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now(),

    -- The document's UNIQUE access_code and its partial index on it are one index.
    CONSTRAINT idx_datarooms_code UNIQUE (access_code),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, deal_id) REFERENCES public.deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, created_by) REFERENCES public.users (tenant_id, id)
);
CREATE INDEX idx_datarooms_deal ON public.data_rooms (deal_id);
CREATE INDEX idx_datarooms_active ON public.data_rooms (tenant_id, is_active) WHERE is_active = TRUE;
CREATE TRIGGER data_rooms_touch_updated_at BEFORE UPDATE ON public.data_rooms
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
ALTER TABLE public.data_rooms ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.data_rooms FORCE ROW LEVEL SECURITY;

CREATE TABLE public.data_room_permissions (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,
    data_room_id UUID,
    user_id UUID,

    -- Permissions
    can_view BOOLEAN DEFAULT TRUE,
    can_download BOOLEAN DEFAULT FALSE,
    can_print BOOLEAN DEFAULT FALSE,
    can_annotate BOOLEAN DEFAULT FALSE,

    -- Folder-level permissions
    allowed_folders UUID[] DEFAULT '{}',
    denied_folders UUID[] DEFAULT '{}',

    -- Tracking
    expires_at TIMESTAMPTZ,
    last_accessed_at TIMESTAMPTZ,
    access_count INTEGER DEFAULT 0,

    -- Audit
    granted_by UUID,
    granted_at TIMESTAMPTZ DEFAULT now(),

    CONSTRAINT idx_dr_permissions_room UNIQUE (data_room_id, user_id),
    FOREIGN KEY (tenant_id, data_room_id) REFERENCES public.data_rooms (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, granted_by) REFERENCES public.users (tenant_id, id)
);
CREATE INDEX idx_dr_permissions_user ON public.data_room_permissions (user_id);
CREATE TRIGGER data_room_permissions_allowed_folders_same_tenant_insert AFTER INSERT ON public.data_room_permissions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('allowed_folders', 'public.document_folders');
CREATE TRIGGER data_room_permissions_allowed_folders_same_tenant_update AFTER UPDATE ON public.data_room_permissions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('allowed_folders', 'public.document_folders');
CREATE TRIGGER data_room_permissions_denied_folders_same_tenant_insert AFTER INSERT ON public.data_room_permissions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('denied_folders', 'public.document_folders');
CREATE TRIGGER data_room_permissions_denied_folders_same_tenant_update AFTER UPDATE ON public.data_room_permissions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('denied_folders', 'public.document_folders');
ALTER TABLE public.data_room_permissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.data_room_permissions FORCE ROW LEVEL SECURITY;
