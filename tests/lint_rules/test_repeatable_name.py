"""repeatable-name: repeatable files are named after their object, in sql/functions, sql/views or sql/policies."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import hits


BODY = "LANGUAGE sql STABLE SET search_path = pg_catalog AS $$ SELECT 1 $$;\n"


def test_a_repeatable_file_not_named_after_an_object_is_flagged_and_not_read_further(proj):
    proj.write("sql/functions/two.sql", f"-- Bad name.\nCREATE OR REPLACE FUNCTION app.two() RETURNS int {BODY}")
    proj.write("sql/helpers/app.three.sql",
               f"-- Bad folder.\nCREATE OR REPLACE FUNCTION app.three() RETURNS int {BODY}")
    proj.write("sql/policies/public.deals.sql", "-- Too short.\nCREATE POLICY p ON public.deals USING (true);\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("repeatable-name", "sql/functions/two.sql", 1),
                         ("repeatable-name", "sql/helpers/app.three.sql", 1),
                         ("repeatable-name", "sql/policies/public.deals.sql", 1)}


def test_functions_views_and_policies_named_after_their_object_pass(proj):
    proj.write("sql/functions/app.one.sql", f"-- One.\nCREATE OR REPLACE FUNCTION app.one() RETURNS int {BODY}")
    proj.write("sql/views/public.v.sql", "-- A view.\nCREATE OR REPLACE VIEW public.v AS SELECT 1 AS one;\n")
    proj.write("sql/policies/public.deals.p.sql", "-- A policy.\nCREATE POLICY p ON public.deals USING (true);\n")
    assert lint(proj.load(), layers=["rules"]).clean
