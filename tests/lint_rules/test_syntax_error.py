"""syntax-error: a file PostgreSQL's parser rejects is reported where the parser stopped."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import pair


def test_a_statement_the_parser_rejects_is_flagged_at_its_position(proj):
    pair(proj, "0001_create_deals", "CREATE TABLE public.deals (id bigint);\nSELEC 1;\n", "DROP TABLE public.deals;\n")
    rep = lint(proj.load(), layers=["rules"])
    found = [f for f in rep.findings if f.rule == "syntax-error"]
    assert [(f.path, f.line, f.col) for f in found] == [("migrations/0001_create_deals.sql", 5, 1)]
    assert "SELEC" in found[0].message


def test_a_file_the_parser_accepts_passes(proj):
    pair(proj, "0001_create_deals", "CREATE TABLE public.deals (id bigint);\n", "DROP TABLE public.deals;\n")
    assert lint(proj.load(), layers=["rules"]).clean
