"""migration-rollback: every migration has a non-empty rollback file, and every rollback its migration."""

from __future__ import annotations

from typing import Iterator

from ..files import Workspace
from ..model import ERROR, Finding, Rule
from ..settings import LintConfig
from ._common import finding

RULE = Rule("migration-rollback", ERROR, "every migration has a matching, non-empty .rollback.sql",
            "write the statements that undo the migration, newest change first, in NNNN_name.rollback.sql")


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    ids = {f.path.name[:-4] for f in ws.forward}
    for f in ws.forward:
        rb = ws.rollbacks.get(f.path.name[:-4])
        if rb is None:
            yield finding(RULE, f, message=f"no rollback file {f.path.name[:-4]}.rollback.sql")
        elif not rb.statements and not rb.parse_error:
            yield finding(RULE, rb, message="the rollback file has no SQL statements")
    for mid, rb in ws.rollbacks.items():
        if mid not in ids:
            yield finding(RULE, rb, message=f"rollback file without a migration {mid}.sql")
