"""suppression-reason: a suppression names its rules and gives a reason, or it suppresses nothing."""

from __future__ import annotations

import pytest

from dbtool.commands.lint import lint
from lint_support import HEADER, hits, suppressed_index


def test_suppression_without_a_reason_is_a_finding_and_suppresses_nothing(proj):
    suppressed_index(proj, "-- dbtool-lint: ignore squawk/require-concurrent-index-creation")
    rep = lint(proj.load(), layers=["safety", "rules"])
    path = "migrations/0002_add_deal_stage_index.sql"
    assert hits(rep) == {("suppression-reason", path, 4), ("squawk/require-concurrent-index-creation", path, 5)}


@pytest.mark.parametrize("comment", [
    "-- dbtool-lint: ignore because it is fine",  # no rule
    "-- dbtool-lint: ignroe migration-header because generated",  # no such verb
    "-- dbtool-lint: ignore-file migration-header because ok",  # too short to be a reason
])
def test_a_suppression_without_rules_verb_or_reason_is_flagged(proj, comment):
    proj.pair("0001_create_deals", f"{comment}\nCREATE TABLE public.deals (id bigint);\n",
              HEADER + "DROP TABLE public.deals;\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("suppression-reason", "migrations/0001_create_deals.sql", 1),
                         ("migration-header", "migrations/0001_create_deals.sql", 1)}


def test_a_suppression_with_rules_and_a_reason_passes(proj):
    proj.pair("0001_create_deals", "-- dbtool-lint: ignore-file migration-header because the file is generated\n"
              "CREATE TABLE public.deals (id bigint);\n", HEADER + "DROP TABLE public.deals;\n")
    rep = lint(proj.load(), layers=["rules"])
    assert rep.clean and rep.suppressed == 1
