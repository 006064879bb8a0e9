-- transactional: false
-- Index deals by region
--
-- Why: the load benchmark's release: an index built CONCURRENTLY blocks no reads or writes.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_region ON public.deals (tenant_id, region)
WHERE archived_at IS NULL;
