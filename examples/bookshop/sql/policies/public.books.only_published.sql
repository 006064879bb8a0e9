-- Readers see published books only.
DROP POLICY IF EXISTS only_published ON public.books;
CREATE POLICY only_published ON public.books
AS PERMISSIVE
FOR SELECT
TO bookshop_reader
USING (published);
