-- Undoes 0010_create_pipeline_analytics: statements run top to bottom, newest change first.
-- The repeatable view tenant_pipeline_analytics reads the materialized view: it goes first.
SET LOCAL ROLE maplatform_owner;

DROP VIEW IF EXISTS public.tenant_pipeline_analytics;
DROP FUNCTION ops.refresh_pipeline_analytics();
DROP MATERIALIZED VIEW public.pipeline_analytics;
