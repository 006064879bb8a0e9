"""syntax-error: a file PostgreSQL's parser rejects; the other rules cannot read it either."""

from __future__ import annotations

from typing import Iterator

from ..files import Workspace
from ..model import ERROR, Finding, Rule
from ..settings import LintConfig
from ._common import at

RULE = Rule("syntax-error", ERROR, "PostgreSQL's parser rejects the file",
            "fix the SQL at that position: the server would refuse it too")


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in ws.files:
        if f.parse_error:
            offset, message = f.parse_error
            yield at(RULE, f, offset, message)
