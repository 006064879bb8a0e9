"""function-search-path: every function pins its search_path; C and internal functions have no SQL to protect."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import hits, pair


def test_a_function_without_set_search_path_is_flagged(proj):
    pair(proj, "0001_create_functions", """
        CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
        CREATE FUNCTION public.g() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
        """, "DROP FUNCTION public.g();\nDROP FUNCTION public.f();\n")
    rep = lint(proj.load(), layers=["rules"])
    path = "migrations/0001_create_functions.sql"
    assert hits(rep) == {("function-search-path", path, 4), ("function-search-path", path, 5)}
    assert rep.findings[0].message == "function public.f does not SET search_path"


def test_functions_that_set_search_path_and_c_functions_pass(proj):
    pair(proj, "0001_create_functions", """
        CREATE FUNCTION public.f() RETURNS int LANGUAGE sql SET search_path = pg_catalog AS $$ SELECT 1 $$;
        CREATE FUNCTION public.h(int) RETURNS int LANGUAGE c AS 'libh', 'h';
        """, "DROP FUNCTION public.h(int);\nDROP FUNCTION public.f();\n")
    assert lint(proj.load(), layers=["rules"]).clean
