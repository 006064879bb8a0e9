"""migration-number: two migrations with one number; the second is reported, the first was there."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator

from ..files import Workspace
from ..model import ERROR, Finding, Rule
from ..settings import LintConfig
from ._common import finding

RULE = Rule("migration-number", ERROR, "two migrations share a number",
            "give the newer one the next free number")


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    by_number = defaultdict(list)
    for f in ws.forward:
        by_number[f.path.name.split("_")[0]].append(f)
    for files in by_number.values():
        for f in files[1:]:
            yield finding(RULE, f, message=f"{f.path.name} has the number of {files[0].path.name}")
