-- Create deals, deal_team_members and pipeline_stages, with row-level security enabled and forced.
--
-- Why: deals are the core of the platform. Every reference to a user or a deal is a composite
-- foreign key (tenant_id, x_id) -> (tenant_id, id), so a deal cannot name another tenant's user
-- as owner and a team member cannot join another tenant's deal. deals.team_ids is an array of
-- user ids, which no foreign key can check: a statement trigger does (app.enforce_same_tenant_ids).
-- deal_team_members gets the tenant_id the document does not give it, pipeline_stages.tenant_id
-- becomes NOT NULL. B-tree indexes on dates, values and scores lead with tenant_id, because
-- under RLS every query filters on the tenant first (docs/deviations.md). The GIN indexes stay on
-- their own column: under RLS their operators (@@, @>) are not leakproof, so they cannot be index
-- conditions for the application role at all; the search functions in sql/functions use them.
SET LOCAL ROLE maplatform_owner;

CREATE TABLE public.deals (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,

    -- Basic info
    name VARCHAR(255) NOT NULL,
    description TEXT,
    deal_type VARCHAR(50) NOT NULL DEFAULT 'acquisition',

    -- Pipeline
    stage VARCHAR(50) NOT NULL DEFAULT 'prospecting',
    stage_entered_at TIMESTAMPTZ DEFAULT now(),
    stage_history JSONB DEFAULT '[]'::JSONB,

    -- Financials
    value DECIMAL(15, 2),
    currency VARCHAR(3) DEFAULT 'GBP',
    probability INTEGER CHECK (probability >= 0 AND probability <= 100),
    expected_close_date DATE,
    actual_close_date DATE,

    -- Assignment
    owner_id UUID,
    team_ids UUID[] DEFAULT '{}',

    -- Custom fields
    custom_fields JSONB DEFAULT '{}'::JSONB,
    tags TEXT[] DEFAULT '{}',

    -- AI fields
    ai_score DECIMAL(3, 2) CHECK (ai_score >= 0 AND ai_score <= 1),
    ai_insights JSONB,
    ai_updated_at TIMESTAMPTZ,

    -- Metadata
    created_by UUID,
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now(),
    archived_at TIMESTAMPTZ,
    version INTEGER DEFAULT 1,

    CONSTRAINT valid_stage CHECK (stage IN (
        'prospecting', 'qualification', 'analysis',
        'negotiation', 'due_diligence', 'closing',
        'closed_won', 'closed_lost'
    )),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES public.users (tenant_id, id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES public.users (tenant_id, id)
);
CREATE INDEX idx_deals_tenant_stage ON public.deals (tenant_id, stage) WHERE archived_at IS NULL;
CREATE INDEX idx_deals_owner ON public.deals (owner_id) WHERE archived_at IS NULL;
CREATE INDEX idx_deals_close_date ON public.deals (tenant_id, expected_close_date) WHERE archived_at IS NULL;
CREATE INDEX idx_deals_value ON public.deals (tenant_id, value DESC) WHERE archived_at IS NULL;
CREATE INDEX idx_deals_ai_score ON public.deals (tenant_id, ai_score DESC) WHERE ai_score IS NOT NULL;
CREATE INDEX idx_deals_tags ON public.deals USING GIN (tags);
CREATE INDEX idx_deals_search ON public.deals USING GIN (
    to_tsvector('english', name || ' ' || COALESCE(description, ''))
);
CREATE TRIGGER deals_touch_updated_at BEFORE UPDATE ON public.deals
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
CREATE TRIGGER deals_team_ids_same_tenant_insert AFTER INSERT ON public.deals
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('team_ids', 'public.users');
CREATE TRIGGER deals_team_ids_same_tenant_update AFTER UPDATE ON public.deals
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('team_ids', 'public.users');
ALTER TABLE public.deals ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.deals FORCE ROW LEVEL SECURITY;

CREATE TABLE public.deal_team_members (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,
    deal_id UUID,
    user_id UUID,
    role VARCHAR(50) NOT NULL DEFAULT 'member',
    permissions TEXT[] DEFAULT '{}',
    added_by UUID,
    added_at TIMESTAMPTZ DEFAULT now(),

    CONSTRAINT idx_deal_team_deal UNIQUE (deal_id, user_id),
    FOREIGN KEY (tenant_id, deal_id) REFERENCES public.deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, added_by) REFERENCES public.users (tenant_id, id)
);
CREATE INDEX idx_deal_team_user ON public.deal_team_members (user_id);
ALTER TABLE public.deal_team_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.deal_team_members FORCE ROW LEVEL SECURITY;

CREATE TABLE public.pipeline_stages (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,
    name VARCHAR(50) NOT NULL,
    display_name VARCHAR(100) NOT NULL,
    order_index INTEGER NOT NULL,
    probability_default INTEGER,
    color VARCHAR(7),
    is_active BOOLEAN DEFAULT TRUE,

    CONSTRAINT idx_pipeline_tenant UNIQUE (tenant_id, name),
    UNIQUE (tenant_id, order_index)
);
ALTER TABLE public.pipeline_stages ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.pipeline_stages FORCE ROW LEVEL SECURITY;

-- maplatform_maintenance (BYPASSRLS) reads deals for pipeline_analytics and search_deals().
GRANT SELECT ON public.deals, public.pipeline_stages TO maplatform_maintenance;
