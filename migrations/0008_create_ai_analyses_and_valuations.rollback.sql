-- Undoes 0008_create_ai_analyses_and_valuations: statements run top to bottom, newest change first.
SET LOCAL ROLE maplatform_owner;

DROP TABLE public.valuations;
DROP TABLE public.ai_analyses;
