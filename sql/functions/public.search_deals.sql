-- Fuzzy search of the current tenant's open deals by name, best match first: pg_trgm's word
-- similarity, so 'hooli' finds "Hooli acquisition 124" and 'Initeck acquisiton' finds "Initech
-- acquisition ...".
-- Why a SECURITY DEFINER function: pg_trgm's operators are not leakproof, so under row-level
-- security the application role can never use idx_deals_name_trgm (see search_documents). This
-- runs as maplatform_maintenance (BYPASSRLS) and applies the tenant filter itself, from the same
-- fail-closed context function: no tenant set, no rows.
-- Positional parameters ($1 text, $2 max results), so a test can PREPARE the body and EXPLAIN it.
SET LOCAL ROLE maplatform_owner;

CREATE OR REPLACE FUNCTION public.search_deals(query TEXT, max_results INTEGER DEFAULT 20)
RETURNS TABLE (
    id UUID,
    name VARCHAR,
    stage VARCHAR,
    similarity REAL
)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT
        d.id,
        d.name,
        d.stage,
        public.word_similarity($1, d.name) AS similarity
    FROM public.deals AS d
    WHERE d.tenant_id = (SELECT app.current_tenant_id())
      AND d.archived_at IS NULL
      AND $1 OPERATOR(public.<%) d.name
    ORDER BY similarity DESC, d.id
    LIMIT $2;
$$;
ALTER FUNCTION public.search_deals(TEXT, INTEGER) OWNER TO maplatform_maintenance;
REVOKE ALL ON FUNCTION public.search_deals(TEXT, INTEGER) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.search_deals(TEXT, INTEGER) TO maplatform_app, maplatform_readonly;
