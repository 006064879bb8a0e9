-- Create tenants, users and user_sessions, with row-level security enabled and forced.
--
-- Why: everything else hangs off a tenant and its users. Isolation is built in from the start:
-- users.tenant_id is NOT NULL, user_sessions gets a tenant_id the document does not give it, and
-- users carries UNIQUE (tenant_id, id) so that every later reference to a user is a composite
-- foreign key (tenant_id, x_id): a row can then only reference a user of its own tenant, and the
-- error for another tenant's id is the same as for an id that does not exist.
-- RLS is forced, so even the owner role sees no rows without a tenant; policies are in
-- sql/policies/. Indexes the document writes inline that duplicate a UNIQUE constraint are not
-- created twice: the constraint carries the document's index name (docs/deviations.md).
SET LOCAL ROLE maplatform_owner;

CREATE TABLE public.tenants (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    subdomain VARCHAR(63) NOT NULL CHECK (subdomain ~ '^[a-z0-9-]+$'),
    company_name VARCHAR(255) NOT NULL,

    -- Subscription
    plan VARCHAR(50) NOT NULL DEFAULT 'starter',
    stripe_customer_id VARCHAR(255) UNIQUE,
    stripe_subscription_id VARCHAR(255),
    trial_ends_at TIMESTAMPTZ,

    -- Configuration
    settings JSONB DEFAULT '{
        "features": {
            "ai_analysis": true,
            "data_rooms": true,
            "api_access": false
        },
        "limits": {
            "users": 5,
            "deals": 100,
            "storage_gb": 10
        }
    }'::JSONB,

    -- Metadata
    onboarding_completed BOOLEAN DEFAULT FALSE,
    is_active BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now(),

    CONSTRAINT idx_tenants_subdomain UNIQUE (subdomain)
);
CREATE INDEX idx_tenants_active ON public.tenants (is_active) WHERE is_active = TRUE;
CREATE TRIGGER tenants_touch_updated_at BEFORE UPDATE ON public.tenants
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
ALTER TABLE public.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.tenants FORCE ROW LEVEL SECURITY;
-- A tenant is closed by an operator, not by the application.
REVOKE DELETE ON public.tenants FROM maplatform_app;

CREATE TABLE public.users (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,
    clerk_id VARCHAR(255) NOT NULL,
    email VARCHAR(255) NOT NULL,

    -- Profile
    first_name VARCHAR(100),
    last_name VARCHAR(100),
    avatar_url VARCHAR(500),
    title VARCHAR(100),
    phone VARCHAR(50),

    -- Permissions
    role VARCHAR(50) NOT NULL DEFAULT 'member',
    permissions TEXT[] DEFAULT '{}',

    -- Settings
    preferences JSONB DEFAULT '{
        "notifications": {
            "email": true,
            "push": true,
            "sms": false
        },
        "timezone": "UTC",
        "locale": "en-US"
    }'::JSONB,

    -- Status
    is_active BOOLEAN DEFAULT TRUE,
    last_login_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now(),

    CONSTRAINT idx_users_clerk UNIQUE (clerk_id),
    UNIQUE (tenant_id, email),
    -- The target of every composite foreign key to a user; named after the document's (tenant_id) index.
    CONSTRAINT idx_users_tenant UNIQUE (tenant_id, id)
);
CREATE INDEX idx_users_email ON public.users (email);
CREATE TRIGGER users_touch_updated_at BEFORE UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.users FORCE ROW LEVEL SECURITY;

CREATE TABLE public.user_sessions (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,
    user_id UUID,
    token_hash VARCHAR(64) NOT NULL,
    ip_address INET,
    user_agent TEXT,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ DEFAULT now(),

    CONSTRAINT idx_sessions_token UNIQUE (token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_sessions_expires ON public.user_sessions (expires_at);
CREATE INDEX idx_sessions_user ON public.user_sessions (tenant_id, user_id);
ALTER TABLE public.user_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_sessions FORCE ROW LEVEL SECURITY;
