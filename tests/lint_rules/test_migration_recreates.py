"""migration-recreates: no migration creates again an object an earlier migration created."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import base_tables, hits, pair


def test_migration_recreating_an_earlier_migrations_object_is_flagged(proj):
    base_tables(proj)
    pair(proj, "0002_replace_deals", """
        DROP TABLE public.deals;
        CREATE TABLE public.deals (id bigint PRIMARY KEY, title text);
        """)
    pair(proj, "0003_drop_deals", "DROP TABLE public.deals;\n")
    pair(proj, "0004_create_deals", "CREATE TABLE public.deals (id bigint PRIMARY KEY);\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("migration-recreates", "migrations/0002_replace_deals.sql", 5)}


def test_changing_an_earlier_migrations_table_in_place_passes(proj):
    pair(proj, "0001_create_deals", "CREATE TABLE public.deals (id bigint);\n", "DROP TABLE public.deals;\n")
    pair(proj, "0002_add_deal_title", "ALTER TABLE public.deals ADD COLUMN title text;\n",
         "ALTER TABLE public.deals DROP COLUMN title;\n")
    assert lint(proj.load(), layers=["rules"]).clean
