-- Drop deal region, priority and referrer
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.deals DROP COLUMN referred_by;
ALTER TABLE public.deals DROP COLUMN priority;
ALTER TABLE public.deals DROP COLUMN region;
