"""migration-rollback: every migration has a non-empty rollback file and every rollback file its migration."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import HEADER, hits, pair


def test_migration_without_rollback_is_flagged(proj):
    proj.write("migrations/0001_create_deals.sql", HEADER + "CREATE TABLE public.deals (id bigint);\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("migration-rollback", "migrations/0001_create_deals.sql", 1)}


def test_empty_rollback_and_orphan_rollback_are_flagged(proj):
    proj.pair("0001_create_deals", HEADER + "CREATE TABLE public.deals (id bigint);\n", "-- nothing to undo\n")
    proj.write("migrations/0002_create_x.rollback.sql", HEADER + "DROP TABLE public.x;\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("migration-rollback", "migrations/0001_create_deals.rollback.sql", 1),
                         ("migration-rollback", "migrations/0002_create_x.rollback.sql", 1)}


def test_a_migration_with_its_rollback_passes(proj):
    pair(proj, "0001_create_deals", "CREATE TABLE public.deals (id bigint);\n", "DROP TABLE public.deals;\n")
    assert lint(proj.load(), layers=["rules"]).clean
