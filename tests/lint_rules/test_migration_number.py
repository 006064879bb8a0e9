"""migration-number: two migrations sharing a number are reported at the second."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import hits, pair


def test_two_migrations_with_one_number_are_flagged_at_the_second(proj):
    pair(proj, "0001_create_deals", "CREATE TABLE public.deals (id bigint);\n")
    pair(proj, "0001_create_notes", "CREATE TABLE public.notes (id bigint);\n")
    pair(proj, "0002_create_tasks", "CREATE TABLE public.tasks (id bigint);\n")
    found = [h for h in hits(lint(proj.load(), layers=["rules"])) if h[0] == "migration-number"]
    assert found == [("migration-number", "migrations/0001_create_notes.sql", 1)]


def test_migrations_with_distinct_numbers_pass(proj):
    pair(proj, "0001_create_deals", "CREATE TABLE public.deals (id bigint);\n", "DROP TABLE public.deals;\n")
    pair(proj, "0002_create_notes", "CREATE TABLE public.notes (id bigint);\n", "DROP TABLE public.notes;\n")
    assert lint(proj.load(), layers=["rules"]).clean
