-- Why: the shop sells books, each by one author.
CREATE TABLE public.authors (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    full_name TEXT NOT NULL UNIQUE
);

CREATE TABLE public.books (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id BIGINT NOT NULL REFERENCES public.authors (id),
    title TEXT NOT NULL,
    published BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX books_author_id_idx ON public.books (author_id);

-- Readers see published books only (the policy only_published, sql/policies/).
-- Roles belong to the whole server, which other databases of this project
-- share: made once.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_catalog.pg_roles WHERE rolname = 'bookshop_reader'
    ) THEN
        CREATE ROLE bookshop_reader NOLOGIN;
    END IF;
END
$$;
GRANT SELECT ON public.authors, public.books TO bookshop_reader;
ALTER TABLE public.books ENABLE ROW LEVEL SECURITY;
