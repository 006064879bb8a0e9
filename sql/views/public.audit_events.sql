-- The audit trail of the current tenant only: the application's (and the tenant's auditors') way
-- into audit.events, a schema they cannot use (0023, docs/audit.md). Read-only: nothing is granted
-- but SELECT, and the table refuses changes anyway. The tenant is read as the policies read it
-- (sql/policies/): (SELECT app.verified_tenant()).
SET LOCAL ROLE maplatform_owner;

DROP VIEW IF EXISTS public.audit_events;
CREATE VIEW public.audit_events
WITH (security_barrier = TRUE)
AS
SELECT
    e.time,
    e.tenant_id,
    e.event_type,
    e.actor_id,
    e.subject_id,
    e.details
FROM audit.events AS e
WHERE e.tenant_id = (SELECT app.verified_tenant());
REVOKE ALL ON public.audit_events FROM maplatform_app, maplatform_readonly;
GRANT SELECT ON public.audit_events TO maplatform_app, maplatform_readonly;
COMMENT ON VIEW public.audit_events IS
    'audit.events of the verified tenant only: who opened which data room and document, permission changes, tokens';
