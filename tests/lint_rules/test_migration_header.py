"""migration-header: a file starts with a comment that says why, not `dbtool new`'s placeholder."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import ACCEPT, HEADER, hits, pair


def test_header_comment_is_required_and_the_new_placeholder_must_be_replaced(proj):
    proj.pair("0001_create_deals", "CREATE TABLE public.deals (id bigint);\n", HEADER + "DROP TABLE public.deals;\n")
    proj.pair("0002_create_notes", "-- Create notes\n--\n-- Why: <say why this change is needed>\n"
              "CREATE TABLE public.notes (id bigint);\n", HEADER + "DROP TABLE public.notes;\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("migration-header", "migrations/0001_create_deals.sql", 1),
                         ("migration-header", "migrations/0002_create_notes.sql", 3)}


def test_an_accept_checksum_line_passes_the_header_and_style_rules_but_is_no_header_itself(proj):
    proj.pair("0001_create_deals", HEADER + ACCEPT + "CREATE TABLE public.deals (id bigint);\n",
              HEADER + "DROP TABLE public.deals;\n")
    proj.pair("0002_create_notes", ACCEPT.replace("ab", "cd") + "CREATE TABLE public.notes (id bigint);\n",
              HEADER + "DROP TABLE public.notes;\n")
    assert len(ACCEPT) > 120  # longer than .sqlfluff's max_line_length, which it is exempt from
    rep = lint(proj.load(), layers=["style", "rules"])
    assert hits(rep) == {("migration-header", "migrations/0002_create_notes.sql", 1)}


def test_a_header_that_says_why_passes(proj):
    proj.pair("0001_create_deals", "-- depends: nothing\n" + HEADER + "CREATE TABLE public.deals (id bigint);\n",
              HEADER + "DROP TABLE public.deals;\n")
    assert lint(proj.load(), layers=["rules"]).clean
