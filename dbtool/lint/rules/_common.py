"""What the rule modules share: a rule's finding at a place in a file, with the rule's severity,
summary (unless a message is given) and hint."""

from __future__ import annotations

from ..model import Finding, Rule
from ..sources import SqlFile


def finding(rule: Rule, f: SqlFile | str, line: int = 1, col: int = 1, message: str | None = None) -> Finding:
    return Finding(f if isinstance(f, str) else f.rel, line, col, rule.severity, rule.id, message or rule.summary,
                   hint=rule.hint, layer="rules")


def at(rule: Rule, f: SqlFile, offset: int, message: str | None = None) -> Finding:
    line, col = f.pos(offset)
    return finding(rule, f, line, col, message)
