"""suppression-unused: a suppression that matches no finding would hide the next real problem there.
../suppress.py applies the suppressions and hands this rule those it used."""

from __future__ import annotations

from typing import Iterable, Iterator

from ..model import WARNING, Finding, Rule
from ._common import finding

RULE = Rule("suppression-unused", WARNING, "a suppression matches no finding",
            "delete it, or move it next to the statement it is meant for")

LAYER_OF = {"sqlfluff/": "style", "squawk/": "safety", "plpgsql/": "bodies"}


def layer_of(rule: str) -> str:
    return next((layer for prefix, layer in LAYER_OF.items() if rule.startswith(prefix)), "rules")


def check(suppressions: Iterable, layers_ran: set[str]) -> Iterator[Finding]:
    """The suppressions (suppress.Suppression) not used, once every layer of their rules has run: a
    layer that was skipped might have had the finding."""
    for s in suppressions:
        if not s.used and all(layer_of(r) in layers_ran for r in s.rules):
            yield finding(RULE, s.rel, s.line, s.col, f"suppression of {', '.join(s.rules)} matches no finding")
