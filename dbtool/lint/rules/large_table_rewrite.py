"""large-table-rewrite: what squawk does not flag that rewrites or scans a table listed in
large_tables under a lock that blocks the application (the statements are read in ../large.py,
which also turns squawk's own such findings into errors)."""

from __future__ import annotations

from typing import Iterator

from .. import large, objects
from ..files import Workspace
from ..model import ERROR, Finding, Rule
from ..settings import LintConfig
from ..sources import SqlFile

RULE = Rule("large-table-rewrite", ERROR, "no rewrite or full scan of a table marked large, under a lock that "
            "blocks the application, that squawk does not already flag",
            "see the finding's hint for the safe pattern; docs/rules/large-table-rewrite.md lists them")


def check(ws: Workspace, cfg: LintConfig, all_forward: list[SqlFile]) -> Iterator[Finding]:
    """What squawk does not flag that rewrites or scans a large table under ACCESS EXCLUSIVE, and
    SET NOT NULL there without a validated CHECK in `all_forward`, the migrations before (large.py).
    A table created earlier in the same file is new and empty, so not large yet."""
    if not cfg.large_tables:
        return
    for f in ws.forward:
        made: set[str] = set()
        for s in f.statements:
            found = large.rewrites(s.node) + [
                (table, f"SET NOT NULL on {column} scans the whole table: no validated CHECK ({column} IS NOT "
                 "NULL) precedes it", large.CHECK_FIRST)
                for table, column in large.set_not_null(s.node) if not large.proven(all_forward, f, s, table, column)]
            for table, what, pattern in found:
                if large.is_large(cfg, table) and table not in made:
                    # the hint is the statement's safe pattern, not the rule's general one
                    yield Finding(f.rel, s.line, s.col, RULE.severity, RULE.id,
                                  f"{what}; {table} is in large_tables: every query on it waits that long",
                                  hint=pattern, layer="rules")
            made |= {key[1] for key, _ in objects.created(s.node) if key[0] == "relation"}
