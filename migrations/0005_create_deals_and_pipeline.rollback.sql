-- Undoes 0005_create_deals_and_pipeline: statements run top to bottom, newest change first.
-- The repeatable function get_deal_pipeline reads deals (its SQL body is bound to the table): it goes first.
SET LOCAL ROLE maplatform_owner;

DROP FUNCTION IF EXISTS public.get_deal_pipeline(UUID);
DROP TABLE public.pipeline_stages;
DROP TABLE public.deal_team_members;
DROP TABLE public.deals;
