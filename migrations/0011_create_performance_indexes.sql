-- Create the document's "Performance Optimization" indexes and the trigram indexes.
--
-- Why: the dashboard, "closing soon", high-value and quarterly queries. Two of the document's
-- definitions fail on PostgreSQL: an index predicate cannot call NOW() (not immutable), so
-- idx_deals_closing_soon keeps the stage condition and the query supplies the date window; and
-- date_trunc('quarter', <date>) goes through timestamptz, which depends on the time zone, so
-- idx_deals_quarter truncates expected_close_date::timestamp instead (queries use the same
-- expression). Every deals b-tree leads with tenant_id, because row-level security adds
-- tenant_id = <current tenant> to every query. The trigram indexes (pg_trgm) serve fuzzy name
-- search (name % 'acme', name ILIKE '%acme%'); pg_trgm's operators are not leakproof, so under
-- RLS only search_deals() (which applies the tenant filter itself) can use them.
-- Built CONCURRENTLY, outside a transaction, so that on a populated database they never block
-- writes; each statement is idempotent (IF NOT EXISTS) because a run killed half-way resumes
-- here, and dbtool drops an INVALID index of this file left by such a run before retrying.
-- No SET ROLE: an index belongs to its table's owner, and a member of maplatform_owner may
-- build and drop indexes on the owner's tables.
-- transactional: false

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_active_high_value ON public.deals (tenant_id, value DESC)
WHERE archived_at IS NULL AND value > 1000000;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_closing_soon ON public.deals (tenant_id, expected_close_date)
WHERE archived_at IS NULL AND stage IN ('negotiation', 'due_diligence');

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_dashboard
ON public.deals (tenant_id, stage, value, probability, expected_close_date)
INCLUDE (name, owner_id)
WHERE archived_at IS NULL;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_quarter
ON public.deals (tenant_id, date_trunc('quarter', expected_close_date::TIMESTAMP))
WHERE archived_at IS NULL;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_activities_time_brin ON public.activities USING BRIN (occurred_at);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_name_trgm ON public.deals USING GIN (name public.gin_trgm_ops);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_documents_name_trgm
ON public.documents USING GIN (name public.gin_trgm_ops);
