-- Undoes 0011_create_performance_indexes, concurrently like it, newest index first: statement i
-- here undoes the i-th statement from the end of the forward file (dbtool pairs them so, to undo
-- the indexes already built when a statement of the forward file fails).
DROP INDEX CONCURRENTLY IF EXISTS public.idx_documents_name_trgm;
DROP INDEX CONCURRENTLY IF EXISTS public.idx_deals_name_trgm;
DROP INDEX CONCURRENTLY IF EXISTS public.idx_activities_time_brin;
DROP INDEX CONCURRENTLY IF EXISTS public.idx_deals_quarter;
DROP INDEX CONCURRENTLY IF EXISTS public.idx_deals_dashboard;
DROP INDEX CONCURRENTLY IF EXISTS public.idx_deals_closing_soon;
DROP INDEX CONCURRENTLY IF EXISTS public.idx_deals_active_high_value;
