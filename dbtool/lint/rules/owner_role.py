"""owner-role: after the roles migration, files start with SET LOCAL ROLE <owner>, so that the owner
role, not whoever migrates, owns what they create."""

from __future__ import annotations

import re
from typing import Iterator

from pglast import ast

from ..files import Workspace
from ..model import ERROR, Finding, Rule
from ..settings import LintConfig
from ..sources import SqlFile
from ._common import finding

RULE = Rule("owner-role", ERROR, "after the roles migration, files start with SET LOCAL ROLE <owner>",
            "make `SET LOCAL ROLE <owner_role>;` (the project's [tool.dbtool] owner_role) the first statement so the "
            "owner role owns what it creates")


def _sets_owner(f: SqlFile, owner: str) -> bool:
    first = f.statements[0].node if f.statements else None
    return (isinstance(first, ast.VariableSetStmt) and first.name == "role" and bool(first.is_local)
            and bool(first.args) and getattr(first.args[0].val, "sval", None) == owner)


def check(ws: Workspace, cfg: LintConfig, selected: set[str] | None = None) -> Iterator[Finding]:
    """The whole project decides where the roles migration is; only the `selected` files are parsed."""
    if not cfg.owner_role:  # the project names no owner role: nothing to check (an empty name matches anything)
        return
    # The roles migration: CREATE ROLE and the owner's name in one file, so that a role created by
    # EXECUTE format('CREATE ROLE %I', ...) from a list of names counts as well.
    owner = re.compile(rf"\b{re.escape(cfg.owner_role)}\b")
    roles_at = next((i for i, f in enumerate(ws.forward)
                     if re.search(r"\bCREATE\s+ROLE\b", f.text, re.I) and owner.search(f.text)), None)
    if roles_at is None:
        return
    later = [f for f in ws.forward[roles_at + 1:] if ws.transactional(f)]
    files = later + [ws.rollbacks[f.path.name[:-4]] for f in later if f.path.name[:-4] in ws.rollbacks]
    for f in files + ws.repeatables:
        if selected is not None and f.rel not in selected:
            continue
        if f.statements and not _sets_owner(f, cfg.owner_role):
            s = f.statements[0]
            yield finding(RULE, f, s.line, s.col, message=f"the first statement is not SET LOCAL ROLE {cfg.owner_role}")
