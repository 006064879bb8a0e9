-- Undoes 0001_create_authors_and_books.
DROP VIEW IF EXISTS public.book_list;
DROP FUNCTION IF EXISTS public.books_by(TEXT);
DROP TABLE public.books;
DROP TABLE public.authors;
-- bookshop_reader stays: roles belong to the server, and another database may
-- still grant to it.
