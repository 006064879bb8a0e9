-- Undoes 0011_create_performance_indexes: statements run top to bottom, newest change first.
SET LOCAL ROLE maplatform_owner;

DROP INDEX public.idx_documents_name_trgm;
DROP INDEX public.idx_deals_name_trgm;
DROP INDEX public.idx_activities_time_brin;
DROP INDEX public.idx_deals_quarter;
DROP INDEX public.idx_deals_dashboard;
DROP INDEX public.idx_deals_closing_soon;
DROP INDEX public.idx_deals_active_high_value;
