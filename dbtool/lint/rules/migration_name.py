"""migration-name: migration files are named NNNN_verb_object.sql, and are SQL, not Python."""

from __future__ import annotations

import re
from typing import Iterator

from ..files import Workspace
from ..model import ERROR, Finding, Rule
from ..settings import LintConfig
from ._common import finding

RULE = Rule("migration-name", ERROR, "migration files are named NNNN_verb_object.sql",
            "rename it: four digits, then lowercase words joined by underscores (`dbtool new verb_object`)")

MIGRATION_NAME = re.compile(r"^\d{4}_[a-z][a-z0-9]*(_[a-z0-9]+)+(\.rollback)?\.sql$")


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for rel in ws.strays:
        yield finding(RULE, rel, message="dbtool migrations are pure SQL files, not Python")
    for f in [*ws.forward, *ws.rollbacks.values()]:
        if not MIGRATION_NAME.match(f.path.name):
            yield finding(RULE, f, message=f"{f.path.name} is not NNNN_verb_object.sql")
