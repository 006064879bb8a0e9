-- transactional: false
-- Drop the region index
DROP INDEX CONCURRENTLY IF EXISTS public.idx_deals_region;
