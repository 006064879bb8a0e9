-- Why: the shop starts selling; a price per book, in cents.
ALTER TABLE public.books ADD COLUMN price_cents BIGINT CHECK (price_cents >= 0);
