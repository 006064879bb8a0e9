-- Every book with its author and price, for the shop's front page.
CREATE OR REPLACE VIEW public.book_list AS
SELECT
    b.id,
    b.title,
    a.full_name AS author,
    b.price_cents
FROM public.books AS b
INNER JOIN public.authors AS a ON b.author_id = a.id;
