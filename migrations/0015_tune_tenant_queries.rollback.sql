-- Undoes 0015_tune_tenant_queries, concurrently like it, newest change first: statement i here
-- undoes the i-th statement from the end of the forward file.
DROP INDEX CONCURRENTLY IF EXISTS public.idx_documents_tenant_embedded;

ALTER INDEX IF EXISTS public.idx_documents_search RENAME TO idx_documents_search_by_tenant;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_documents_search ON public.documents USING GIN (search_vector);

DROP INDEX CONCURRENTLY IF EXISTS public.idx_documents_search_by_tenant;
