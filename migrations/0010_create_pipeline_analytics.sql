-- Create the pipeline_analytics materialized view and the function that refreshes it.
--
-- Why: per-tenant pipeline metrics are expensive to compute on every dashboard load. The
-- document's query orders by a column that does not exist (stage_order): the stage order is
-- pipeline_stages.order_index. Conversion rates are computed over all of a tenant's configured
-- stages, a stage without deals counting as zero, so the "next stage" is the next configured one
-- and not the next one that happens to have deals. A unique index on (tenant_id, stage) makes
-- REFRESH ... CONCURRENTLY possible (and serves the document's index on tenant_id).
-- A materialized view has no row-level security: it belongs to maplatform_maintenance, which
-- refreshes it for every tenant, and the application reads it only through the tenant-filtered
-- view tenant_pipeline_analytics (sql/views/).
SET LOCAL ROLE maplatform_owner;

CREATE MATERIALIZED VIEW public.pipeline_analytics AS
WITH stage_metrics AS (
    SELECT
        tenant_id,
        stage,
        count(*) AS deal_count,
        sum(value) AS total_value,
        avg(value) AS avg_value,
        avg(probability) AS avg_probability,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS median_value,
        avg(extract(EPOCH FROM (now() - stage_entered_at)) / 86400)::INTEGER AS avg_days_in_stage
    FROM public.deals
    WHERE archived_at IS NULL
    GROUP BY tenant_id, stage
),

stage_counts AS (
    SELECT
        ps.tenant_id,
        ps.name AS stage,
        ps.order_index,
        coalesce(sm.deal_count, 0) AS deal_count
    FROM public.pipeline_stages AS ps
    LEFT JOIN stage_metrics AS sm ON ps.tenant_id = sm.tenant_id AND ps.name = sm.stage
),

conversion_rates AS (
    SELECT
        tenant_id,
        stage,
        deal_count,
        lead(deal_count) OVER stage_order AS next_stage_count,
        CASE
            WHEN deal_count > 0
                THEN (lead(deal_count) OVER stage_order)::DECIMAL / deal_count
            ELSE 0
        END AS conversion_rate
    FROM stage_counts
    WINDOW stage_order AS (PARTITION BY tenant_id ORDER BY order_index)
)

SELECT
    sm.*,
    cr.conversion_rate,
    now() AS calculated_at
FROM stage_metrics AS sm
LEFT JOIN conversion_rates AS cr ON sm.tenant_id = cr.tenant_id AND sm.stage = cr.stage;

CREATE UNIQUE INDEX pipeline_analytics_tenant_id_stage_key ON public.pipeline_analytics (tenant_id, stage);
CREATE INDEX pipeline_analytics_stage_idx ON public.pipeline_analytics (stage);
REVOKE ALL ON public.pipeline_analytics FROM maplatform_app, maplatform_readonly;
ALTER MATERIALIZED VIEW public.pipeline_analytics OWNER TO maplatform_maintenance;

CREATE FUNCTION ops.refresh_pipeline_analytics()
RETURNS VOID
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    REFRESH MATERIALIZED VIEW CONCURRENTLY public.pipeline_analytics;
END
$$;
ALTER FUNCTION ops.refresh_pipeline_analytics() OWNER TO maplatform_maintenance;
COMMENT ON FUNCTION ops.refresh_pipeline_analytics() IS
    'Refreshes pipeline_analytics for every tenant without blocking readers (runs as maplatform_maintenance)';
