-- Drop the referrer foreign key and the priority range
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.deals DROP CONSTRAINT deals_priority_range;
ALTER TABLE public.deals DROP CONSTRAINT deals_referred_by_fkey;
