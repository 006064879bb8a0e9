-- Create activities, activities_archive and tasks, with row-level security enabled and forced.
--
-- Why: the activity log and task lists of every deal. activities_archive is the table the
-- document's archive_activities job writes to but never creates; it has the columns of activities
-- in the same order (the job moves rows with SELECT *), its own tenant isolation, and the
-- application may read it but not write it: only the archive job, as maplatform_maintenance, does.
-- activities.user_id and tasks.assigned_to use ON DELETE SET NULL (column), which clears the user
-- and keeps the tenant. Array references (attachments, depends_on, blocks) are checked by
-- statement triggers. activities comes after documents because attachments point at documents.
SET LOCAL ROLE maplatform_owner;

CREATE TABLE public.activities (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,

    -- Associations
    deal_id UUID,
    user_id UUID,

    -- Activity details
    type VARCHAR(50) NOT NULL,
    title VARCHAR(255) NOT NULL,
    description TEXT,

    -- Timing
    occurred_at TIMESTAMPTZ DEFAULT now(),
    duration INTEGER, -- minutes

    -- Metadata
    metadata JSONB DEFAULT '{}'::JSONB,
    attachments UUID[] DEFAULT '{}',

    -- Audit
    created_at TIMESTAMPTZ DEFAULT now(),
    created_by UUID,

    CONSTRAINT valid_activity_type CHECK (type IN (
        'email', 'call', 'meeting', 'note',
        'task', 'document', 'stage_change', 'system'
    )),
    FOREIGN KEY (tenant_id, deal_id) REFERENCES public.deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) ON DELETE SET NULL (user_id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES public.users (tenant_id, id)
);
CREATE INDEX idx_activities_deal ON public.activities (deal_id);
CREATE INDEX idx_activities_user ON public.activities (user_id);
CREATE INDEX idx_activities_occurred ON public.activities (tenant_id, occurred_at DESC);
CREATE INDEX idx_activities_type ON public.activities (tenant_id, type);
CREATE TRIGGER activities_attachments_same_tenant_insert AFTER INSERT ON public.activities
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('attachments', 'public.documents');
CREATE TRIGGER activities_attachments_same_tenant_update AFTER UPDATE ON public.activities
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('attachments', 'public.documents');
ALTER TABLE public.activities ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.activities FORCE ROW LEVEL SECURITY;

CREATE TABLE public.activities_archive (
    id UUID PRIMARY KEY,
    tenant_id UUID NOT NULL REFERENCES public.tenants (id) ON DELETE CASCADE,
    deal_id UUID,
    user_id UUID,
    type VARCHAR(50) NOT NULL,
    title VARCHAR(255) NOT NULL,
    description TEXT,
    occurred_at TIMESTAMPTZ,
    duration INTEGER,
    metadata JSONB,
    attachments UUID[],
    created_at TIMESTAMPTZ,
    created_by UUID,
    archived_at TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT valid_activity_type CHECK (type IN (
        'email', 'call', 'meeting', 'note',
        'task', 'document', 'stage_change', 'system'
    )),
    FOREIGN KEY (tenant_id, deal_id) REFERENCES public.deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) ON DELETE SET NULL (user_id),
    FOREIGN KEY (tenant_id, created_by) REFERENCES public.users (tenant_id, id)
);
COMMENT ON TABLE public.activities_archive IS
    'Activities older than a year, moved here weekly by ops.archive_activities()';
CREATE INDEX idx_activities_archive_occurred ON public.activities_archive (tenant_id, occurred_at DESC);
CREATE INDEX idx_activities_archive_deal ON public.activities_archive (deal_id);
ALTER TABLE public.activities_archive ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.activities_archive FORCE ROW LEVEL SECURITY;
REVOKE INSERT, UPDATE, DELETE ON public.activities_archive FROM maplatform_app;

CREATE TABLE public.tasks (
    id UUID PRIMARY KEY DEFAULT public.uuid_generate_v4(),
    tenant_id UUID NOT NULL DEFAULT app.current_tenant_id() REFERENCES public.tenants (id) ON DELETE CASCADE,

    -- Task info
    title VARCHAR(255) NOT NULL,
    description TEXT,
    type VARCHAR(50) DEFAULT 'general',

    -- Associations
    deal_id UUID,
    assigned_to UUID,
    assigned_by UUID,

    -- Status
    status VARCHAR(50) DEFAULT 'pending',
    priority VARCHAR(20) DEFAULT 'medium',

    -- Timing
    due_date TIMESTAMPTZ,
    reminder_date TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    completed_by UUID,

    -- Dependencies
    depends_on UUID[] DEFAULT '{}',
    blocks UUID[] DEFAULT '{}',

    -- Metadata
    tags TEXT[] DEFAULT '{}',
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now(),

    CONSTRAINT valid_status CHECK (status IN (
        'pending', 'in_progress', 'completed', 'cancelled', 'blocked'
    )),
    CONSTRAINT valid_priority CHECK (priority IN (
        'low', 'medium', 'high', 'critical'
    )),
    FOREIGN KEY (tenant_id, deal_id) REFERENCES public.deals (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, assigned_to) REFERENCES public.users (tenant_id, id) ON DELETE SET NULL (assigned_to),
    FOREIGN KEY (tenant_id, assigned_by) REFERENCES public.users (tenant_id, id),
    FOREIGN KEY (tenant_id, completed_by) REFERENCES public.users (tenant_id, id)
);
CREATE INDEX idx_tasks_assigned ON public.tasks (assigned_to) WHERE status != 'completed';
CREATE INDEX idx_tasks_deal ON public.tasks (deal_id);
CREATE INDEX idx_tasks_due ON public.tasks (tenant_id, due_date) WHERE status != 'completed';
CREATE INDEX idx_tasks_status ON public.tasks (tenant_id, status);
CREATE TRIGGER tasks_touch_updated_at BEFORE UPDATE ON public.tasks
    FOR EACH ROW EXECUTE FUNCTION app.touch_updated_at();
CREATE TRIGGER tasks_depends_on_same_tenant_insert AFTER INSERT ON public.tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('depends_on', 'public.tasks');
CREATE TRIGGER tasks_depends_on_same_tenant_update AFTER UPDATE ON public.tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('depends_on', 'public.tasks');
CREATE TRIGGER tasks_blocks_same_tenant_insert AFTER INSERT ON public.tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('blocks', 'public.tasks');
CREATE TRIGGER tasks_blocks_same_tenant_update AFTER UPDATE ON public.tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION app.enforce_same_tenant_ids('blocks', 'public.tasks');
ALTER TABLE public.tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.tasks FORCE ROW LEVEL SECURITY;
