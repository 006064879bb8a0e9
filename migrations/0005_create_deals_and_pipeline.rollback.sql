-- Undoes 0005_create_deals_and_pipeline: statements run top to bottom, newest change first.
-- The repeatable functions reading deals (their SQL bodies are bound to the table) go first.
SET LOCAL ROLE maplatform_owner;

DROP FUNCTION IF EXISTS public.search_deals(TEXT, INTEGER);
DROP FUNCTION IF EXISTS public.get_deal_pipeline(UUID);
REVOKE SELECT ON public.deals, public.pipeline_stages FROM maplatform_maintenance;
DROP TABLE public.pipeline_stages;
DROP TABLE public.deal_team_members;
DROP TABLE public.deals;
