-- Fuzzy search of the current tenant's open deals by name, best match first: pg_trgm's word
-- similarity, so 'hooli' finds "Hooli acquisition 124" and 'Initeck acquisiton' finds "Initech
-- acquisition ...".
-- Why a SECURITY DEFINER function: pg_trgm's operators are not leakproof, so under row-level
-- security the application role can never use idx_deals_name_trgm (see search_documents). This
-- runs as maplatform_maintenance (BYPASSRLS) and applies the tenant filter itself, from the same
-- fail-closed context function: no tenant set, no rows.
-- PL/pgSQL for the reasons search_documents gives (Citus; a plan kept for the session).
SET LOCAL ROLE maplatform_owner;

-- PL/pgSQL does not look for the tables its body names when the function is created (a SQL body
-- did): this fails until the migration that makes public.deals has run, so dbtool keeps the file
-- waiting instead of creating a function over a missing table, and after a rollback past that
-- migration the function stays dropped.
-- dbtool-lint: ignore repeatable-object because it defines nothing, it waits for public.deals
SELECT 'public.deals'::REGCLASS AS requires_deals;

CREATE OR REPLACE FUNCTION public.search_deals(query TEXT, max_results INTEGER DEFAULT 20)
RETURNS TABLE (
    id UUID,
    name VARCHAR,
    stage VARCHAR,
    similarity REAL
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant UUID := app.current_tenant_id();
BEGIN
    RETURN QUERY
    SELECT
        d.id,
        d.name,
        d.stage,
        public.word_similarity(search_deals.query, d.name) AS similarity
    FROM public.deals AS d
    WHERE d.tenant_id = tenant
      AND d.archived_at IS NULL
      AND search_deals.query OPERATOR(public.<%) d.name
    ORDER BY similarity DESC, d.id
    LIMIT max_results;
END
$$;
ALTER FUNCTION public.search_deals(TEXT, INTEGER) OWNER TO maplatform_maintenance;
REVOKE ALL ON FUNCTION public.search_deals(TEXT, INTEGER) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.search_deals(TEXT, INTEGER) TO maplatform_app, maplatform_readonly;
