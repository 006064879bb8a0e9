-- Validate the referrer foreign key and the priority range
--
-- Why: the load benchmark's release: VALIDATE CONSTRAINT scans deals under SHARE UPDATE EXCLUSIVE,
-- which blocks no reads or writes (and ROW SHARE on users for the foreign key).
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.deals VALIDATE CONSTRAINT deals_referred_by_fkey;
ALTER TABLE public.deals VALIDATE CONSTRAINT deals_priority_range;
