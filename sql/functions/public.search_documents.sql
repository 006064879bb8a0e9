-- Full-text search over the current tenant's documents, best match first.
-- Why a SECURITY DEFINER function: under row-level security PostgreSQL evaluates the policy before
-- any user condition whose operator is not leakproof, and @@ (ts_match_vq) is not, so for the
-- application role idx_documents_search can never be an index condition: a search reads every
-- document of the tenant. This function runs as maplatform_maintenance (BYPASSRLS, no policies
-- applied) and applies the tenant filter itself, from the same fail-closed context function: no
-- tenant set, no rows. The caller chooses only the search text and the number of results.
-- PL/pgSQL: Citus runs no SQL-language function with parameters against a distributed table
-- (docs/citus.md), and a SECURITY DEFINER SQL function is never inlined, so it planned this query
-- again on every call; PL/pgSQL plans it once per session (docs/benchmarks.md, rls.search).
SET LOCAL ROLE maplatform_owner;

-- PL/pgSQL does not look for the tables its body names when the function is created (a SQL body
-- did): this fails until the migration that makes public.documents has run, so dbtool keeps the file
-- waiting instead of creating a function over a missing table, and after a rollback past that
-- migration the function stays dropped.
-- dbtool-lint: ignore repeatable-object because it defines nothing, it waits for public.documents
SELECT 'public.documents'::REGCLASS AS requires_documents;

CREATE OR REPLACE FUNCTION public.search_documents(query TEXT, max_results INTEGER DEFAULT 20)
RETURNS TABLE (
    id UUID,
    name VARCHAR,
    display_name VARCHAR,
    deal_id UUID,
    rank REAL
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
        d.display_name,
        d.deal_id,
        ts_rank(d.search_vector, websearch_to_tsquery('english', search_documents.query)) AS rank
    FROM public.documents AS d
    WHERE d.tenant_id = tenant
      AND d.search_vector @@ websearch_to_tsquery('english', search_documents.query)
    ORDER BY rank DESC, d.id
    LIMIT max_results;
END
$$;
ALTER FUNCTION public.search_documents(TEXT, INTEGER) OWNER TO maplatform_maintenance;
REVOKE ALL ON FUNCTION public.search_documents(TEXT, INTEGER) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.search_documents(TEXT, INTEGER) TO maplatform_app, maplatform_readonly;
