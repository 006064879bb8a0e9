"""schema-qualified: every table, view and function a statement names carries its schema."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import hits, pair


def test_schema_qualification_and_search_path_are_required(proj):
    pair(proj, "0001_create_deals", """
        CREATE TABLE deals (id bigint);
        CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
        WITH d AS (SELECT 1 AS id) INSERT INTO public.log SELECT id FROM d;
        """)
    rep = lint(proj.load(), layers=["rules"])
    path = "migrations/0001_create_deals.sql"
    assert hits(rep) == {("schema-qualified", path, 4), ("function-search-path", path, 5)}


def test_an_unqualified_function_or_relation_dropped_is_flagged(proj):
    pair(proj, "0001_drop_old", "DROP FUNCTION old_total();\nDROP TABLE old_deals;\n")
    rep = lint(proj.load(), layers=["rules"])
    path = "migrations/0001_drop_old.sql"
    assert hits(rep) == {("schema-qualified", path, 4), ("schema-qualified", path, 5)}


def test_qualified_names_and_a_statements_own_ctes_pass(proj):
    pair(proj, "0001_create_deals", """
        CREATE TABLE public.deals (id bigint);
        WITH d AS (SELECT 1 AS id) INSERT INTO public.deals SELECT d.id FROM d;
        """, "DROP TABLE public.deals;\n")
    assert lint(proj.load(), layers=["rules"]).clean
