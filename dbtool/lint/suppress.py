"""Inline suppressions: `-- dbtool-lint: ignore RULE[, RULE] because REASON`.

A suppression on a line of its own covers the next statement; at the end of a line of code it
covers the statement that line belongs to; `ignore-file` covers the whole file. Rule ids may be
globs (`squawk/*`). A suppression without a reason suppresses nothing and is itself a finding, and
so is one that matches nothing (it would hide the next real problem), once its layer has run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .model import Finding
from .rules import suppression_reason, suppression_unused
from .sources import SqlFile

DIRECTIVE = re.compile(r"--\s*dbtool-lint:\s*(?P<verb>[\w-]*)(?P<rest>.*)$")
BODY = re.compile(r"^\s*(?P<rules>[\w/*?.,\s-]*?)\s*\bbecause\b\s*(?P<reason>.*)$", re.I)


@dataclass
class Suppression:
    rel: str
    line: int
    col: int
    rules: list[str]
    reason: str
    first: int
    last: int
    used: bool = False

    def covers(self, f: Finding) -> bool:
        return (f.path == self.rel and self.first <= f.line <= self.last
                and not f.rule.startswith("suppression-") and any(fnmatchcase(f.rule, r) for r in self.rules))


def parse(f: SqlFile) -> tuple[list[Suppression], list[Finding]]:
    sups, bad = [], []
    for n, text in enumerate(f.text.splitlines(), start=1):
        m = DIRECTIVE.search(text)
        if not m:
            continue
        col = m.start() + 1
        body = BODY.match(m.group("rest"))
        rules = [r for r in re.split(r"[,\s]+", body.group("rules")) if r] if body else []
        reason = body.group("reason").strip() if body else ""
        malformed = suppression_reason.check(f, n, col, m.group("verb"), rules, reason)
        if malformed:
            bad.append(malformed)
            continue
        first, last = _extent(f, n, m.start(), m.group("verb") == "ignore-file")
        sups.append(Suppression(f.rel, n, col, rules, reason, first, last))
    return sups, bad


def _extent(f: SqlFile, line: int, col0: int, whole: bool) -> tuple[int, int]:
    if whole:
        return 1, 10**9
    offset = f._line_starts[line - 1] + col0
    standalone = not f.line_text(line)[:col0].strip()
    for s in f.statements:
        if s.start <= offset <= s.end or (not standalone and s.line <= line <= s.end_line):
            return s.line, s.end_line  # inside a statement (a column list, a body) or after it: all of it
        if standalone and s.start > offset:
            return line, s.end_line
    if standalone:  # unparsable file: the next line with code
        nxt = line + 1
        while nxt <= len(f._line_starts) and (not f.line_text(nxt).strip()
                                              or f.line_text(nxt).lstrip().startswith("--")):
            nxt += 1
        return line, nxt
    return line, line


def apply(findings: list[Finding], files: list[SqlFile], layers_ran: set[str]
          ) -> tuple[list[Finding], int]:
    """Findings left after suppressions, plus suppression findings; and how many were suppressed."""
    sups: list[Suppression] = []
    out: list[Finding] = []
    for f in files:
        s, bad = parse(f)
        sups += s
        out += bad
    suppressed = 0
    for found in findings:
        hits = [s for s in sups if s.covers(found)]
        for s in hits:
            s.used = True
        if hits:
            suppressed += 1
        else:
            out.append(found)
    out += suppression_unused.check(sups, layers_ran)
    return out, suppressed
