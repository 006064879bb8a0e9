"""`dbtool new NAME`: the next NNNN_name.sql and NNNN_name.rollback.sql pair, with a header."""

from __future__ import annotations

import re
from pathlib import Path

from ..config import Project
from ..errors import UsageError
from ..migrations import ID_RE

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")

FORWARD = """\
-- {title}
--
-- Why: <say why this change is needed; the what is in the SQL below>
SET LOCAL ROLE maplatform_owner;

"""

ROLLBACK = """\
-- Undoes {id}: statements run top to bottom, newest change first.
SET LOCAL ROLE maplatform_owner;

"""


def new(project: Project, name: str) -> tuple[Path, Path]:
    name = name.strip().lower().replace("-", "_").replace(" ", "_")
    if not NAME_RE.match(name):
        raise UsageError(f"migration name {name!r} is not verb_object in lowercase",
                         hint="e.g. `dbtool new add_deal_region` or `dbtool new create_audit_log`")
    folder = project.migrations_dir
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in folder.glob("*.sql") if (m := ID_RE.match(p.name))]
    mid = f"{(max(numbers) if numbers else 0) + 1:04d}_{name}"
    fwd, rb = folder / f"{mid}.sql", folder / f"{mid}.rollback.sql"
    title = name.replace("_", " ").capitalize()
    fwd.write_text(FORWARD.format(title=title))
    rb.write_text(ROLLBACK.format(id=mid))
    return fwd, rb
