-- daily_activity_summary for the current tenant only: the application's way into the
-- materialized view, which has no row-level security and is not granted to it.
-- The tenant is read as the policies read it (sql/policies/): in a sub-select, without a function call.
SET LOCAL ROLE maplatform_owner;

DROP VIEW IF EXISTS public.tenant_daily_activity_summary;
CREATE VIEW public.tenant_daily_activity_summary
WITH (security_barrier = TRUE)
AS
SELECT
    das.day,
    das.tenant_id,
    das.event_count,
    das.active_users,
    das.active_deals,
    das.total_value_impacted
FROM public.daily_activity_summary AS das
WHERE das.tenant_id = (SELECT NULLIF(current_setting('app.current_tenant', TRUE), '')::UUID);
REVOKE ALL ON public.tenant_daily_activity_summary FROM maplatform_app, maplatform_readonly;
GRANT SELECT ON public.tenant_daily_activity_summary TO maplatform_app, maplatform_readonly;
