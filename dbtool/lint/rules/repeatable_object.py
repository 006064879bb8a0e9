"""repeatable-object: a repeatable file defines exactly the object it is named after (checked only
in files whose name says which object: repeatable-name reports the others)."""

from __future__ import annotations

from typing import Iterator

from pglast import ast

from .. import objects
from ..files import Workspace
from ..model import ERROR, Finding, Rule
from ..settings import LintConfig
from ..sources import SqlFile
from ._common import finding
from .repeatable_name import named_object

RULE = Rule("repeatable-object", ERROR, "a repeatable file defines exactly the object it is named after",
            "keep one object per file; put other objects in their own files or in a migration")

NEUTRAL = (ast.VariableSetStmt, ast.CommentStmt, ast.GrantStmt, ast.AlterOwnerStmt)


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in ws.repeatables:
        named = named_object(ws, f)
        if named is not None:
            yield from _one_object(f, *named)


def _defines(node, kind: str, parts: list[str]) -> bool | None:
    """True: defines the named object; False: another object; None: neither (neutral or other)."""
    if kind == "functions" and isinstance(node, ast.CreateFunctionStmt):
        return objects.name_of(node.funcname, None) == ".".join(parts)
    if kind == "views" and isinstance(node, ast.ViewStmt):
        return objects.name_of(node.view, None) == ".".join(parts)
    if kind == "views" and isinstance(node, ast.CreateTableAsStmt):
        return objects.name_of(node.into.rel, None) == ".".join(parts)
    if kind == "policies" and isinstance(node, (ast.CreatePolicyStmt, ast.AlterPolicyStmt)):
        return objects.name_of(node.table, None) == ".".join(parts[:2]) and node.policy_name == parts[2]
    return None


def _one_object(f: SqlFile, kind: str, parts: list[str]) -> Iterator[Finding]:
    want = {"functions": "function", "views": "view", "policies": "policy"}[kind] + " " + ".".join(parts)
    found = False
    for s in f.statements:
        verdict = _defines(s.node, kind, parts)
        found |= verdict is True
        if verdict is False or (verdict is None and not isinstance(s.node, NEUTRAL) and not _drops_own(s.node, kind)):
            yield finding(RULE, f, s.line, s.col,
                          message=f"{s.kind} here: the file is named after {want} and may define only it")
    if f.statements and not found:
        yield finding(RULE, f, message=f"the file does not define {want}")


def _drops_own(node, kind: str) -> bool:
    """`DROP ... IF EXISTS` before a CREATE is allowed (its target is checked by the CREATE)."""
    return isinstance(node, ast.DropStmt) or (kind == "functions" and isinstance(node, ast.AlterFunctionStmt))
