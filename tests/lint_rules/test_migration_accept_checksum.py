"""migration-accept-checksum: accept-checksum lines are well formed and only in a migration's header."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import ACCEPT, HEADER, hits, pair


def test_a_malformed_or_misplaced_accept_checksum_line_is_flagged_at_its_line(proj):
    proj.pair("0001_create_deals", HEADER + "-- dbtool-accept-checksum: abc because short\n"
              "-- dbtool-accept-checksum: " + "ab" * 32 + "\n"
              "CREATE TABLE public.deals (id bigint);\n" + ACCEPT,
              HEADER + ACCEPT + "DROP TABLE public.deals;\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("migration-accept-checksum", "migrations/0001_create_deals.sql", 4),
                         ("migration-accept-checksum", "migrations/0001_create_deals.sql", 5),
                         ("migration-accept-checksum", "migrations/0001_create_deals.sql", 7),
                         ("migration-accept-checksum", "migrations/0001_create_deals.rollback.sql", 4)}
    messages = {f.line: f.message for f in rep.findings if f.path == "migrations/0001_create_deals.sql"}
    assert "'abc' is not a sha256 checksum" in messages[4] and "gives no reason" in messages[5]
    assert "below the leading comment block" in messages[7]


def test_a_well_formed_accept_line_in_a_migrations_header_passes(proj):
    proj.pair("0001_create_deals", HEADER + ACCEPT + "CREATE TABLE public.deals (id bigint);\n",
              HEADER + "DROP TABLE public.deals;\n")
    assert lint(proj.load(), layers=["rules"]).clean
