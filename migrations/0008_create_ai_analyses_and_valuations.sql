-- Create ai_analyses and valuations, with row-level security enabled and forced.
--
-- Why: AI results and valuations are per-deal, per-tenant data. valuations gets the tenant_id the
-- document does not give it; valuations.comparables is an array of deal ids ("reference to other
-- deals"), checked by statement triggers so a valuation can only compare with its own tenant's
-- deals. Type and date indexes lead with tenant_id.
SET LOCAL ROLE maplatform_owner;

CREATE TABLE public.ai_analyses (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,

    -- Associations
    deal_id UUID,
    document_id UUID,

    -- Analysis info
    type VARCHAR(50) NOT NULL,
    model VARCHAR(100) NOT NULL,
    model_version VARCHAR(50),

    -- Input/Output
    input_data JSONB,
    results JSONB NOT NULL,
    confidence_score DECIMAL(3, 2),

    -- Performance
    processing_time_ms INTEGER,
    tokens_used INTEGER,
    cost_usd DECIMAL(10, 4),

    -- Status
    status VARCHAR(50) DEFAULT 'completed',
    error_message TEXT,

    -- Metadata
    created_at TIMESTAMPTZ DEFAULT now(),
    expires_at TIMESTAMPTZ,

    CONSTRAINT valid_analysis_type CHECK (type IN (
        'valuation', 'risk_assessment', 'document_analysis',
        'deal_scoring', 'market_analysis', 'comparable_analysis'
    )),
    FOREIGN KEY (tenant_id, deal_id) REFERENCES public.deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, document_id) REFERENCES public.documents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_ai_analyses_deal ON public.ai_analyses (deal_id);
CREATE INDEX idx_ai_analyses_document ON public.ai_analyses (document_id);
CREATE INDEX idx_ai_analyses_type ON public.ai_analyses (tenant_id, type);
CREATE INDEX idx_ai_analyses_created ON public.ai_analyses (tenant_id, created_at DESC);
ALTER TABLE public.ai_analyses ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ai_analyses FORCE ROW LEVEL SECURITY;

CREATE TABLE public.valuations (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,
    deal_id UUID,

    -- Valuation details
    method VARCHAR(50) NOT NULL,
    base_value DECIMAL(15, 2) NOT NULL,
    low_value DECIMAL(15, 2),
    high_value DECIMAL(15, 2),
    currency VARCHAR(3) DEFAULT 'GBP',

    -- Assumptions
    assumptions JSONB NOT NULL,

    -- Calculations
    calculations JSONB,
    sensitivity_analysis JSONB,
    comparables UUID[], -- Reference to other deals

    -- Metadata
    confidence_score DECIMAL(3, 2),
    notes TEXT,

    -- Audit
    created_by UUID,
    created_at TIMESTAMPTZ DEFAULT now(),
    approved_by UUID,
    approved_at TIMESTAMPTZ,

    FOREIGN KEY (tenant_id, deal_id) REFERENCES public.deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, created_by) REFERENCES public.users (tenant_id, id),
    FOREIGN KEY (tenant_id, approved_by) REFERENCES public.users (tenant_id, id)
);
CREATE INDEX idx_valuations_deal ON public.valuations (deal_id);
CREATE INDEX idx_valuations_created ON public.valuations (tenant_id, created_at DESC);
CREATE TRIGGER valuations_comparables_same_tenant_insert AFTER INSERT ON public.valuations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('comparables', 'public.deals');
CREATE TRIGGER valuations_comparables_same_tenant_update AFTER UPDATE ON public.valuations
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('comparables', 'public.deals');
ALTER TABLE public.valuations ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.valuations FORCE ROW LEVEL SECURITY;
