"""schema-qualified: every table, view and function name is schema-qualified, so that what a
statement means does not depend on the search_path it runs under."""

from __future__ import annotations

from typing import Iterator

from pglast import ast, visitors

from .. import objects
from ..files import Workspace
from ..model import WARNING, Finding, Rule
from ..settings import LintConfig
from ._common import at, finding

RULE = Rule("schema-qualified", WARNING, "every table, view and function name is schema-qualified",
            "write schema.name (public.books, app.current_shop)")


class _Unqualified(visitors.Visitor):
    """Every relation named without a schema, except references to the statement's own CTEs."""

    def __init__(self):
        super().__init__()
        self.ctes: set[str] = set()
        self.hits: list[ast.RangeVar] = []

    def visit_CommonTableExpr(self, ancestors, node):
        self.ctes.add(node.ctename)

    def visit_RangeVar(self, ancestors, node):
        if not node.schemaname:
            self.hits.append(node)


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in ws.files:
        for s in f.statements:
            v = _Unqualified()
            v(s.node)
            for rv in v.hits:
                if rv.relname not in v.ctes:
                    yield at(RULE, f, rv.location if rv.location is not None else s.start,
                             f"{rv.relname} is not schema-qualified")
            for names, what in _routine_names(s.node):
                if len(names) < 2:
                    yield finding(RULE, f, s.line, s.col, f"{what} {names[-1].sval} is not schema-qualified")


def _routine_names(node):
    if isinstance(node, ast.CreateFunctionStmt):
        yield node.funcname, "function"
    elif isinstance(node, ast.CreateTrigStmt):
        yield node.funcname, "trigger function"
    elif isinstance(node, ast.DropStmt) and node.removeType in objects.FUNCTION_DROPS:
        for obj in node.objects or ():
            yield obj.objname, "function"
    elif isinstance(node, ast.DropStmt) and node.removeType in objects.RELATION_DROPS:
        for obj in node.objects or ():
            yield obj, "relation"
