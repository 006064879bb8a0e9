-- daily_activity_summary for the current tenant only: the application's way into the summary
-- (a continuous aggregate on the community edition, a materialized view on the Apache edition;
-- timeline is a schema the application cannot use), which has no row-level security.
-- The tenant is read as the policies read it (sql/policies/): (SELECT app.verified_tenant()).
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
FROM timeline.daily_activity_summary AS das
WHERE das.tenant_id = (SELECT app.verified_tenant());
REVOKE ALL ON public.tenant_daily_activity_summary FROM maplatform_app, maplatform_readonly;
GRANT SELECT ON public.tenant_daily_activity_summary TO maplatform_app, maplatform_readonly;
COMMENT ON VIEW public.tenant_daily_activity_summary IS
    'timeline.daily_activity_summary of the verified tenant only: the application''s way into the daily summary';
