-- Index a tenant's document search and similarity search by tenant, so each costs what the tenant's
-- own documents cost, whatever the number of tenants (docs/benchmarks.md, docs/deviations.md).
--
-- Why, measured at 1,000 tenants x 1,000 documents each (make bench-full):
--  * search_documents(): idx_documents_search on search_vector alone returns the matches of every
--    tenant ('revenue growth': 167,000 documents) before the tenant filter keeps 166 of them: 34 to
--    74 ms, ten times more with ten times the tenants. As a GIN on (tenant_id, search_vector)
--    (btree_gin), GIN intersects the tenant's posting list with the lexemes' inside the index:
--    3 ms, flat in the number of tenants. It keeps its name (the document's), its definition
--    changes: a tenant can only search through search_documents() (@@ is not leakproof, so under
--    row-level security no text condition is an index condition), and that always names the tenant.
--  * match_documents(): for a tenant's few dozen embedded documents the planner rightly prefers an
--    exact scan to the HNSW index (which RLS would filter to 0.1 per cent of its candidates), but
--    found them by reading every document of the tenant (1,000 heap pages) to keep the 25 with an
--    embedding: 1.5 ms. idx_documents_tenant_embedded reads only those: 0.2 ms.
-- Built CONCURRENTLY, outside a transaction, so that on a populated database writes go on; the new
-- search index is built before the old one is dropped, so search never loses its index. Each
-- statement is idempotent because a run killed half-way resumes here.
-- transactional: false

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_documents_search_by_tenant
ON public.documents USING GIN (tenant_id, search_vector);

DROP INDEX CONCURRENTLY IF EXISTS public.idx_documents_search;

-- dbtool-lint: ignore squawk/renaming-object because no query names an index; the document's name stays on its index
ALTER INDEX IF EXISTS public.idx_documents_search_by_tenant RENAME TO idx_documents_search;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_documents_tenant_embedded
ON public.documents (tenant_id) WHERE embeddings IS NOT NULL;
