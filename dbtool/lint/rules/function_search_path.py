"""function-search-path: every function pins its search_path, so that what its body names cannot be
taken over by an object in a schema the caller put first (C and internal functions have no SQL)."""

from __future__ import annotations

from typing import Iterator

from pglast import ast

from .. import objects
from ..files import Workspace
from ..model import WARNING, Finding, Rule
from ..settings import LintConfig
from ._common import finding

RULE = Rule("function-search-path", WARNING, "every function pins its search_path",
            "add `SET search_path = pg_catalog, <schemas>` to the function's definition")

NON_SQL_LANGUAGES = {"c", "internal"}


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in ws.files:
        for s in f.statements:
            if not isinstance(s.node, ast.CreateFunctionStmt):
                continue
            opts = {o.defname: o.arg for o in s.node.options or ()}
            lang = getattr(opts.get("language"), "sval", "sql")
            sets = [o.arg for o in s.node.options or () if o.defname == "set"]
            if lang not in NON_SQL_LANGUAGES and not any(v.name == "search_path" for v in sets):
                yield finding(RULE, f, s.line, s.col,
                              message=f"function {objects.name_of(s.node.funcname, None)} does not SET search_path")
