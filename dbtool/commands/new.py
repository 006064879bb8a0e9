"""`dbtool new NAME`: the next NNNN_name.sql and NNNN_name.rollback.sql pair, with a header.

With `--why TEXT` the pair passes `dbtool lint` as written. Without it the forward file's `-- Why:`
line holds a placeholder, which lint's migration-header rule reports (on that line) until the
author replaces it: a migration's reason is the one thing the tool cannot write."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from ..config import Project
from ..errors import UsageError
from ..migrations import ID_RE, rel

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
SAME_NAME = re.compile(r"^\d+_(.+?)(?:\.rollback)?\.sql$")  # the name part of NNNN_name[.rollback].sql
PLACEHOLDER = "<say why this change is needed; the what is in the SQL below>"  # lint looks for "<say why"
WHY_LINE = 3  # the forward file's line that says why
WIDTH = 100  # sqlfluff's limit is 120

# Each file ends with one newline (sqlfluff LT12); the SQL goes below the header.
FORWARD = """\
-- {title}
--
{why}
{role}"""

ROLLBACK = """\
-- Undoes {id}: statements run top to bottom, newest change first.
{role}"""


@dataclass
class Created:
    migration: Path
    rollback: Path
    fill_in: str | None  # `path:line` of the placeholder to replace, when no reason was given

    def __iter__(self):  # fwd, rb = new(...)
        return iter((self.migration, self.rollback))

    def as_dict(self) -> dict:
        return {"migration": str(self.migration), "rollback": str(self.rollback), "fill_in": self.fill_in}

    def lines(self, quiet: bool = False) -> list[str]:
        made = [f"created {self.migration}", f"created {self.rollback}"]
        if self.fill_in:
            made.append(f"next: say why in {self.fill_in} (the `-- Why:` placeholder, which `dbtool lint` reports "
                        "until it is replaced), then write the SQL below the header and its undo in the rollback "
                        "file")
        return made


def new(project: Project, name: str, why: str | None = None) -> Created:
    name = name.strip().lower().replace("-", "_").replace(" ", "_")
    if not NAME_RE.match(name):
        raise UsageError(f"migration name {name!r} is not verb_object in lowercase",
                         hint="e.g. `dbtool new add_deal_region` or `dbtool new create_audit_log`")
    if why is not None and not why.strip():
        raise UsageError("--why is empty", hint="say in a sentence why the change is needed")
    folder = project.migrations_dir
    folder.mkdir(parents=True, exist_ok=True)
    same = sorted((p for p in folder.glob("*.sql") if (m := SAME_NAME.match(p.name)) and m.group(1) == name),
                  key=lambda p: (p.name.endswith(".rollback.sql"), p.name))  # the migration before its rollback
    if same:
        raise UsageError(f"a migration named {name} exists already: {rel(same[0], project.root)}",
                         hint="choose another name (verb_object), or edit that file if no database has applied it")
    numbers = [int(m.group(1)) for p in folder.glob("*.sql") if (m := ID_RE.match(p.name))]
    mid = f"{(max(numbers) if numbers else 0) + 1:04d}_{name}"
    fwd, rb = folder / f"{mid}.sql", folder / f"{mid}.rollback.sql"
    owner = project.get("owner_role") or project.section("lint").get("owner_role")
    role = f"SET LOCAL ROLE {owner};\n" if owner else ""
    reason = " ".join((why or PLACEHOLDER).split())
    why_lines = textwrap.fill(reason, WIDTH, initial_indent="-- Why: ", subsequent_indent="-- ",
                              break_long_words=False, break_on_hyphens=False)
    with fwd.open("x") as f:  # never overwrite: another `dbtool new` may have taken the number
        f.write(FORWARD.format(title=name.replace("_", " ").capitalize(), why=why_lines, role=role))
    with rb.open("x") as f:
        f.write(ROLLBACK.format(id=mid, role=role))
    return Created(fwd, rb, None if why else f"{rel(fwd, project.root)}:{WHY_LINE}")
