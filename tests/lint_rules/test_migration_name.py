"""migration-name: migration files are named NNNN_verb_object.sql and are SQL."""

from __future__ import annotations

import pytest

from dbtool.commands.lint import lint
from lint_support import hits, pair


@pytest.mark.parametrize("name", ["0001-create-deals", "1_create_deals", "0001_Deals", "0001_deals"])
def test_badly_named_migration_file_is_flagged(proj, name):
    pair(proj, name, "CREATE TABLE public.deals (id bigint);\n")
    rep = lint(proj.load(), layers=["rules"])
    assert ("migration-name", f"migrations/{name}.sql", 1) in hits(rep)


def test_a_python_migration_is_flagged(proj):
    pair(proj, "0001_create_deals", "CREATE TABLE public.deals (id bigint);\n", "DROP TABLE public.deals;\n")
    proj.write("migrations/0002_add_region.py", "steps = []\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("migration-name", "migrations/0002_add_region.py", 1)}


def test_well_named_migrations_and_rollbacks_pass(proj):
    pair(proj, "0001_create_deals", "CREATE TABLE public.deals (id bigint);\n", "DROP TABLE public.deals;\n")
    pair(proj, "0002_add_deal_region2", "ALTER TABLE public.deals ADD COLUMN region2 text;\n",
         "ALTER TABLE public.deals DROP COLUMN region2;\n")
    assert lint(proj.load(), layers=["rules"]).clean
