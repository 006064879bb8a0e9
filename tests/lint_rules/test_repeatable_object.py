"""repeatable-object: a repeatable file defines exactly the object it is named after."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import hits


def test_repeatable_files_define_exactly_the_object_they_are_named_after(proj):
    body = "LANGUAGE sql STABLE SET search_path = pg_catalog AS $$ SELECT 1 $$;\n"
    proj.write("sql/functions/app.one.sql", f"-- One.\nCREATE OR REPLACE FUNCTION app.one() RETURNS int {body}")
    proj.write("sql/functions/app.two.sql", f"-- Two.\nCREATE OR REPLACE FUNCTION app.one() RETURNS int {body}"
               f"CREATE OR REPLACE FUNCTION app.two() RETURNS int {body}")
    proj.write("sql/functions/two.sql", f"-- Bad name.\nCREATE OR REPLACE FUNCTION app.two() RETURNS int {body}")
    proj.write("sql/views/public.v.sql", "-- A view.\nCREATE OR REPLACE VIEW public.w AS SELECT 1 AS one;\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("repeatable-object", "sql/functions/app.two.sql", 2),
                         ("repeatable-name", "sql/functions/two.sql", 1),
                         ("repeatable-object", "sql/views/public.v.sql", 2),
                         ("repeatable-object", "sql/views/public.v.sql", 1)}


def test_a_file_defining_its_object_with_drops_grants_and_comments_passes(proj):
    proj.write("sql/functions/app.one.sql", """
        -- One.
        DROP FUNCTION IF EXISTS app.one();
        CREATE OR REPLACE FUNCTION app.one() RETURNS int
        LANGUAGE sql STABLE SET search_path = pg_catalog AS $$ SELECT 1 $$;
        COMMENT ON FUNCTION app.one() IS 'one';
        GRANT EXECUTE ON FUNCTION app.one() TO PUBLIC;
        """)
    assert lint(proj.load(), layers=["rules"]).clean
