-- The current tenant's documents nearest to an embedding (cosine distance), nearest first.
-- Row-level security filters the HNSW index's candidates after the index produced them: with a
-- plain index scan, a tenant owning 2% of the documents gets about 2% of hnsw.ef_search (40)
-- candidates, i.e. often fewer rows than asked for. pgvector 0.8's iterative scan keeps reading
-- the index until enough rows pass the filter (bounded by hnsw.max_scan_tuples); relaxed_order
-- may return slightly out of order, so the outer query sorts the final rows again.
-- PL/pgSQL, not SQL: Citus runs no SQL-language function with parameters against a distributed
-- table (docs/citus.md), and PL/pgSQL keeps the plan for the session where a SQL function with a
-- SET clause (never inlined) planned it on every call. The session's generic plan is the plan a
-- call made anyway: the tenant is the policy's InitPlan parameter either way (docs/benchmarks.md).
-- The body names the tenant itself (d.tenant_id = the verified tenant, the policy's own condition,
-- so the same rows on one server): Citus' planner never sees a policy's condition, and routes the
-- query to the tenant's one shard only when the tenant is a value in the query (docs/citus.md);
-- without it every shard searched its own HNSW index and the coordinator merged them.
SET LOCAL ROLE maplatform_owner;

-- PL/pgSQL does not look for the tables its body names when the function is created (a SQL body
-- did): this fails until the migration that makes public.documents has run, so dbtool keeps the file
-- waiting instead of creating a function over a missing table, and after a rollback past that
-- migration the function stays dropped.
-- dbtool-lint: ignore repeatable-object because it defines nothing, it waits for public.documents
SELECT 'public.documents'::REGCLASS AS requires_documents;

-- Load pgvector in this session first: until it is loaded, hnsw.iterative_scan is an unknown
-- placeholder, and PostgreSQL 15 lets only superusers put an unknown parameter in a SET clause.
-- dbtool-lint: ignore repeatable-object because it defines nothing, it only loads pgvector
SELECT '[0]'::public.VECTOR AS load_pgvector;

CREATE OR REPLACE FUNCTION public.match_documents(query_embedding public.VECTOR, match_count INTEGER DEFAULT 10)
RETURNS TABLE (
    id UUID,
    name VARCHAR,
    distance DOUBLE PRECISION
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
SET "hnsw.iterative_scan" = 'relaxed_order'
AS $$
DECLARE
    tenant UUID := app.verified_tenant();
BEGIN
    RETURN QUERY
    WITH nearest AS MATERIALIZED (
        SELECT
            d.id,
            d.name,
            d.embeddings OPERATOR(public.<=>) query_embedding AS distance
        FROM public.documents AS d
        WHERE d.tenant_id = tenant
          AND d.embeddings IS NOT NULL
        ORDER BY d.embeddings OPERATOR(public.<=>) query_embedding
        LIMIT match_count
    )
    SELECT n.id, n.name, n.distance
    FROM nearest AS n
    ORDER BY n.distance;
END
$$;
REVOKE ALL ON FUNCTION public.match_documents(public.VECTOR, INTEGER) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.match_documents(public.VECTOR, INTEGER) TO maplatform_app, maplatform_readonly;
