"""migration-recreates: a migration creates again an object an earlier migration created (and no
migration dropped since): a change of it belongs in ALTER, or in sql/ as a repeatable file."""

from __future__ import annotations

from typing import Iterator

from .. import objects
from ..files import Workspace
from ..model import ERROR, Finding, Rule
from ..settings import LintConfig
from ._common import finding

RULE = Rule("migration-recreates", ERROR, "a migration re-creates an object an earlier migration created",
            "change it in place (ALTER ...), or move functions and views to sql/ as repeatable files")


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    created: dict[tuple[str, str], str] = {}  # key -> migration that created it
    for f in ws.forward:
        made = [(key, label, s) for s in f.statements for key, label in objects.created(s.node)]
        for key, label, s in made:
            if key in created and created[key] != f.rel:
                yield finding(RULE, f, s.line, s.col, message=f"re-creates {label}, which {created[key]} created")
        for s in f.statements:
            for drop in objects.dropped(s.node):
                for key in [k for k in created if objects.matches(k, drop)]:
                    del created[key]
        for key, _, _ in made:
            created.setdefault(key, f.rel)
