"""migration-header: a file starts with a comment that says why it exists (not `dbtool new`'s placeholder)."""

from __future__ import annotations

import re
from typing import Iterator

from ... import migrations
from ..files import Workspace
from ..model import WARNING, Finding, Rule
from ..settings import LintConfig
from ._common import finding

RULE = Rule("migration-header", WARNING, "a file starts with a comment that says why it exists",
            "start the file with `-- <what>` and `-- Why: <reason>` lines")

NEW_PLACEHOLDER = "<say why"


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in [*ws.forward, *ws.rollbacks.values(), *ws.repeatables]:
        comment = f.leading_comment()
        prose = [ln for ln in comment.splitlines()
                 if ln.strip().startswith(("--", "/*", "*")) and not re.match(r"\s*--\s*(depends|transactional)\s*:", ln)
                 and not migrations.is_accept_line(ln) and "dbtool-lint:" not in ln and re.search(r"[A-Za-z]{3}", ln)]
        if not prose:
            yield finding(RULE, f, message="no header comment before the first statement")
        elif NEW_PLACEHOLDER in comment:
            line = comment[: comment.index(NEW_PLACEHOLDER)].count("\n") + 1
            yield finding(RULE, f, line, 1, message="the header still has `dbtool new`'s placeholder")
