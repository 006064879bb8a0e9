"""repeatable-name: a repeatable file is named after its object: dbtool reads the object's identity
from the file name (to check it exists, re-apply it, drop it when the file is deleted)."""

from __future__ import annotations

from typing import Iterator

from ..files import Workspace
from ..model import ERROR, Finding, Rule
from ..settings import LintConfig
from ..sources import SqlFile
from ._common import finding

RULE = Rule("repeatable-name", ERROR, "repeatable files are named after their object",
            "name it sql/functions/<schema>.<name>.sql, sql/views/<schema>.<name>.sql or "
            "sql/policies/<schema>.<table>.<policy>.sql")

REPEATABLE_SHAPES = {"functions": 2, "views": 2, "policies": 3}


def named_object(ws: Workspace, f: SqlFile) -> tuple[str, list[str]] | None:
    """The kind (functions, views, policies) and the dotted name parts the file is named after, or
    None when its name says neither."""
    kind = f.path.parent.name if f.path.parent.parent == ws.sql_dir else None
    parts = f.path.name[:-4].split(".")
    if kind not in REPEATABLE_SHAPES or len(parts) != REPEATABLE_SHAPES[kind]:
        return None
    return kind, parts


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in ws.repeatables:
        if named_object(ws, f) is None:
            yield finding(RULE, f, message=f"{f.rel} is not named like "
                          "sql/{functions,views}/<schema>.<name>.sql or sql/policies/<schema>.<table>.<policy>.sql")
