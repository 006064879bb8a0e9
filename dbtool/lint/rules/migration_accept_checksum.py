"""migration-accept-checksum: what `dbtool migrate` would refuse in a migration's accept-checksum
lines (the same reader), and such lines where dbtool never reads them."""

from __future__ import annotations

from typing import Iterator

from ... import migrations
from ..files import Workspace
from ..model import ERROR, Finding, Rule
from ..settings import LintConfig
from ._common import finding

RULE = Rule("migration-accept-checksum", ERROR, "a `-- dbtool-accept-checksum:` line names a sha256 and a reason, "
            "in a migration file's header",
            "write `-- dbtool-accept-checksum: <64 lowercase hex digits> because <reason>` among the -- lines before "
            "the migration file's first statement (not in its rollback file)")


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in ws.forward:
        for a in migrations.accept_lines(f.text):
            if a.problem:
                yield finding(RULE, f, a.line, 1, message=a.problem)
    for f in [*ws.rollbacks.values(), *ws.repeatables, *ws.other]:
        for a in migrations.accept_lines(f.text):
            yield finding(RULE, f, a.line, 1,
                          message=f"`-- {migrations.ACCEPT_DIRECTIVE}:` means nothing here: only a migration file's "
                                  "header accepts old checksums (of that file)")
