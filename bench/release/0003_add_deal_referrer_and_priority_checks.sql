-- Add the referrer foreign key and the priority range, not validated yet
--
-- Why: the load benchmark's release: NOT VALID constraints check new rows only, so adding them
-- scans nothing; the next migration validates the existing rows without blocking writes.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.deals ADD CONSTRAINT deals_referred_by_fkey
FOREIGN KEY (tenant_id, referred_by) REFERENCES public.users (tenant_id, id) NOT VALID;
ALTER TABLE public.deals ADD CONSTRAINT deals_priority_range CHECK (priority BETWEEN 1 AND 5) NOT VALID;
