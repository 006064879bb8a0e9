"""suppression-unused: a suppression that matches no finding is reported, once its layer has run."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import base_tables, hits, pair


def test_suppression_that_matches_nothing_is_a_finding(proj):
    base_tables(proj)
    pair(proj, "0002_add_deal_region", "-- dbtool-lint: ignore squawk/adding-required-field because why not\n"
         "ALTER TABLE public.deals ADD COLUMN region text;\n", "ALTER TABLE public.deals DROP COLUMN region;\n")
    rep = lint(proj.load(), layers=["safety", "rules"])
    assert hits(rep) == {("suppression-unused", "migrations/0002_add_deal_region.sql", 4)}


def test_a_suppression_of_a_layer_that_did_not_run_is_not_called_unused(proj):
    base_tables(proj)
    pair(proj, "0002_add_deal_region", "-- dbtool-lint: ignore squawk/adding-required-field because why not\n"
         "ALTER TABLE public.deals ADD COLUMN region text;\n", "ALTER TABLE public.deals DROP COLUMN region;\n")
    assert lint(proj.load(), layers=["rules"]).clean


def test_a_suppression_that_matches_a_finding_passes(proj):
    base_tables(proj)
    pair(proj, "0002_add_deal_stage_index", "-- dbtool-lint: ignore squawk/require-concurrent-index-creation "
         "because deals is empty\nCREATE INDEX deals_stage_idx ON public.deals (stage);\n",
         "DROP INDEX public.deals_stage_idx;\n")
    rep = lint(proj.load(), layers=["safety", "rules"])
    assert rep.clean and rep.suppressed == 1
