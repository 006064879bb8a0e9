-- A tenant's open deals per stage, in pipeline order: count, total value, average days in stage.
-- SECURITY INVOKER, so row-level security still applies: the parameter can narrow to the
-- current tenant, never widen to another. COUNT(*) is bigint, the declared column INTEGER, hence
-- the cast (the document's version fails with "structure of query does not match function result
-- type"). PL/pgSQL, not SQL: Citus runs no SQL-language function with parameters against a
-- distributed table (docs/citus.md), and PL/pgSQL keeps the query's plan for the session where a
-- SQL function that is not inlined (a SET clause prevents it) plans it on every call. plpgsql_check
-- (dbtool lint) checks the body against public.deals.
-- closed_won and closed_lost, both 7 in the document, are ordered 7 and 8 so the order is total.
SET LOCAL ROLE maplatform_owner;

-- PL/pgSQL does not look for the tables its body names when the function is created (a SQL body
-- did): this fails until the migration that makes public.deals has run, so dbtool keeps the file
-- waiting instead of creating a function over a missing table, and after a rollback past that
-- migration the function stays dropped.
-- dbtool-lint: ignore repeatable-object because it defines nothing, it waits for public.deals
SELECT 'public.deals'::REGCLASS AS requires_deals;

CREATE OR REPLACE FUNCTION public.get_deal_pipeline(p_tenant_id UUID)
RETURNS TABLE (
    stage VARCHAR,
    deal_count INTEGER,
    total_value DECIMAL,
    avg_days_in_stage INTEGER
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT
        d.stage,
        count(*)::INTEGER AS deal_count,
        sum(d.value) AS total_value,
        avg(extract(EPOCH FROM (now() - d.stage_entered_at)) / 86400)::INTEGER AS avg_days_in_stage
    FROM public.deals AS d
    WHERE d.tenant_id = p_tenant_id
      AND d.archived_at IS NULL
    GROUP BY d.stage
    ORDER BY
        CASE d.stage
            WHEN 'prospecting' THEN 1
            WHEN 'qualification' THEN 2
            WHEN 'analysis' THEN 3
            WHEN 'negotiation' THEN 4
            WHEN 'due_diligence' THEN 5
            WHEN 'closing' THEN 6
            WHEN 'closed_won' THEN 7
            ELSE 8
        END;
END
$$;
REVOKE ALL ON FUNCTION public.get_deal_pipeline(UUID) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.get_deal_pipeline(UUID) TO maplatform_app, maplatform_readonly;
