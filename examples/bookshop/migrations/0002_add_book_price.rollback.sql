-- Undoes 0002_add_book_price.
DROP VIEW IF EXISTS public.book_list;
ALTER TABLE public.books DROP COLUMN price_cents;
