"""suppression-reason: a suppression names its rules and gives a reason; one that does not
suppresses nothing. The suppressions are read in ../suppress.py, which asks this rule of each."""

from __future__ import annotations

from ..model import ERROR, Finding, Rule
from ..sources import SqlFile
from ._common import finding

RULE = Rule("suppression-reason", ERROR, "a suppression names its rules and gives a reason",
            "say why the rule does not apply here; see docs/rules/suppression-reason.md")

VERBS = ("ignore", "ignore-file")


def check(f: SqlFile, line: int, col: int, verb: str, rules: list[str], reason: str) -> Finding | None:
    """The finding for the suppression `-- dbtool-lint: <verb> <rules> because <reason>` at line:col,
    or None when it is well formed."""
    if verb not in VERBS or not rules or len(reason) < 3:
        return finding(RULE, f, line, col, "suppression needs rule id(s) and a reason: "
                                           "`-- dbtool-lint: ignore RULE because REASON`")
    return None
