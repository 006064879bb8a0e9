"""`dbtool drift`: does the live database still match what migrations/ and sql/ say it should be?

Against the committed snapshot of head for the server's TimescaleDB edition (schema/snapshot.yaml,
or schema/snapshot.timescale.yaml on the community edition), when the database is at the version
that file describes; or, with --against-migrations, against a scratch database built on the same
server from migrations/ and sql/ up to the live database's applied version.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .. import catalog, db, ledger
from ..catalog import Change
from ..config import Project
from ..errors import DbtoolError, UsageError
from . import snapshot as snap_cmd


@dataclass
class DriftReport:
    database: str
    against: str  # the snapshot file, or "migrations/ at <version>"
    version: str | None
    changes: list[Change] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return bool(self.changes)

    def as_dict(self) -> dict:
        return {"database": self.database, "against": self.against, "version": self.version,
                "drift": self.drift, "changes": [c.as_dict() for c in self.changes]}


def drift(url: str, project: Project, *, against: Path | None = None, against_migrations: bool = False) -> DriftReport:
    ids = snap_cmd.migration_ids(project)
    with db.connection(url) as conn:
        database = db.scalar(conn, "SELECT current_database()")
        version = _live_version(conn, project, database, ids)
        edition = snap_cmd.edition(conn)
    if against_migrations:
        if version is None:
            raise UsageError(f"{database} has no migration applied: there is no version to rebuild",
                             hint="run `dbtool migrate` first, or compare with a file: --against FILE")
        expected = snap_cmd.from_migrations(url, project, to=version).data
        where = f"migrations/ at {version}"
    else:
        committed = snap_cmd.snapshot_file(project, edition)
        path = against or committed
        expected = _expected_from_file(path, ids, database, version, edition, committed)
        where = str(path)
    actual = snap_cmd.take(url, project).data
    return DriftReport(database, where, version, catalog.diff(expected, actual))


def _live_version(conn, project: Project, database: str, ids: list[str]) -> str | None:
    done = ledger.applied(conn)
    unknown = sorted(set(done) - set(ids))
    if unknown:
        raise DbtoolError(f"{database} has migration {unknown[0]} applied, which is not in "
                          f"{project.get('migrations')}/", hint="see `dbtool status`; check out the matching "
                          "revision of the project, or `dbtool repair --forget` it")
    return snap_cmd.newest(done, ids)


def _expected_from_file(path: Path, ids: list[str], database: str, version: str | None,
                        edition: str | None, committed: Path) -> dict:
    snap = snap_cmd.read_file(path, edition)
    if snap.edition and edition and snap.edition != edition:  # the migrations build another schema there
        raise UsageError(f"{path.name} is the snapshot of TimescaleDB's {snap.edition!r} edition, but the server of "
                         f"{database} runs the {edition!r} edition",
                         hint=f"compare with {committed.name}, the snapshot of that edition (leave out --against; "
                              f"{snap_cmd.make_command(edition)} writes it), "
                              "or with `dbtool drift --against-migrations`")
    want = snap.version or (ids[-1] if ids else None)
    if version != want:
        raise UsageError(f"{database} is at {version or 'no migration'}, but {path.name} is the snapshot of "
                         f"{want or 'an empty schema'}",
                         hint="compare with the schema migrations/ builds at the database's version: "
                              "`dbtool drift --against-migrations` (or `dbtool migrate` to bring it to head)")
    return snap.data


# ----- printing ---------------------------------------------------------------------------------

def format_change(c: Change) -> list[str]:
    """`action  kind  name`, then what changed: `-` the expected value, `+` the live one."""
    lines = [f"{c.action:<8} {c.kind}  {c.name}"]
    if c.action == "changed":
        for key in c.before:
            lines.append(f"    {key}:")
            lines += ["      " + ln for ln in _value_diff(c.before[key], c.after[key])]
    else:
        shown = c.after if c.action == "added" else c.before
        sign = "+" if c.action == "added" else "-"
        for key, value in shown.items():
            text = _text(value)
            if "\n" in text:
                lines.append(f"    {sign} {key}:")
                lines += [f"    {sign}   {ln}" for ln in text.splitlines()]
            else:
                lines.append(f"    {sign} {key}: {text}")
    return lines


def _text(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _value_diff(before, after) -> list[str]:
    if isinstance(before, dict) or isinstance(after, dict):  # privileges: only the roles that differ
        before, after, out = before or {}, after or {}, []
        for key in sorted(set(before) | set(after), key=str):
            if before.get(key) != after.get(key):
                out += [f"- {key}: {_text(before.get(key))}", f"+ {key}: {_text(after.get(key))}"]
        return out
    a, b = _text(before), _text(after)
    if "\n" in a or "\n" in b:  # a function body, a view: show only the lines that changed
        out = difflib.unified_diff(a.splitlines(), b.splitlines(), "expected", "live", n=1, lineterm="")
        return list(out)[2:]
    return [f"- {a}", f"+ {b}"]
