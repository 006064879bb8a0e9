-- pipeline_analytics for the current tenant only: the application's way into the materialized
-- view, which has no row-level security and is not granted to it. security_barrier keeps a
-- caller's own (possibly leaky) WHERE conditions from seeing rows before the tenant filter.
-- The tenant is read as the policies read it (sql/policies/): (SELECT app.verified_tenant()).
SET LOCAL ROLE maplatform_owner;

DROP VIEW IF EXISTS public.tenant_pipeline_analytics;
CREATE VIEW public.tenant_pipeline_analytics
WITH (security_barrier = TRUE)
AS
SELECT
    pa.tenant_id,
    pa.stage,
    pa.deal_count,
    pa.total_value,
    pa.avg_value,
    pa.avg_probability,
    pa.median_value,
    pa.avg_days_in_stage,
    pa.conversion_rate,
    pa.calculated_at
FROM public.pipeline_analytics AS pa
WHERE pa.tenant_id = (SELECT app.verified_tenant());
REVOKE ALL ON public.tenant_pipeline_analytics FROM maplatform_app, maplatform_readonly;
GRANT SELECT ON public.tenant_pipeline_analytics TO maplatform_app, maplatform_readonly;
COMMENT ON VIEW public.tenant_pipeline_analytics IS
    'public.pipeline_analytics of the verified tenant only: the application''s way into the pipeline figures';
