-- Add deal region, priority and referrer
--
-- Why: the load benchmark's release (bench/load.py): catalog-only column changes on the largest
-- table. A nullable column and a column with a constant default rewrite nothing (PostgreSQL 11+):
-- ACCESS EXCLUSIVE is held for milliseconds once it is had.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.deals ADD COLUMN region VARCHAR(50);
ALTER TABLE public.deals ADD COLUMN priority INTEGER NOT NULL DEFAULT 3;
ALTER TABLE public.deals ADD COLUMN referred_by UUID;
