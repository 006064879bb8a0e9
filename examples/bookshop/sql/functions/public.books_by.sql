-- The titles of one author's books, by the author's name.
CREATE OR REPLACE FUNCTION public.books_by(author TEXT)
RETURNS SETOF TEXT
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT b.title
    FROM public.books AS b
    INNER JOIN public.authors AS a ON b.author_id = a.id
    WHERE a.full_name = author
    ORDER BY b.title;
$$;
