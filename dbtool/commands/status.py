"""`dbtool status`: what is applied, pending, edited since applied, or applied but gone from disk.

Status reports, it does not refuse: a migrations folder that migrate and rollback refuse (two files
with one number after a branch merge, a missing rollback file...) is listed as problems, next to
everything else it can show, so that the DBA sees the database's state while the folder is fixed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .. import citus, db, ledger, migrations, repeatables
from ..config import Project
from ..errors import FINDINGS, DbtoolError


@dataclass
class Entry:
    id: str
    state: str  # applied | pending | changed | missing
    applied_at: str | None = None
    applied_by: str | None = None
    note: str | None = None
    # applied, then edited, and the file accepts the recorded checksum (`-- dbtool-accept-checksum:`):
    # {"checksum": the recorded one, "reason": the file's}; the next migrate records the new checksum
    accepted: dict | None = None
    duration_ms: int | None = None  # how long the migration took to apply (the ledger's record)


@dataclass
class StatusReport:
    database: str
    migrations: list[Entry] = field(default_factory=list)
    repeatables: list[Entry] = field(default_factory=list)
    # what makes the migrations folder unsound (migrate and rollback refuse it): {problem, hint}
    problems: list[dict] = field(default_factory=list)
    exit_on_findings: bool = False  # --exit-code

    @property
    def version(self) -> str | None:
        """The database's current version: its newest applied migration, in file order (the ledger's
        greatest id when none of its migrations has a file any more)."""
        applied = [e.id for e in self.migrations if e.state in ("applied", "changed")]
        return applied[-1] if applied else max((e.id for e in self.migrations if e.state == "missing"), default=None)

    @property
    def attention(self) -> list[Entry]:
        """Entries that are not up to date (pending, changed, missing)."""
        return [e for e in self.migrations + self.repeatables if e.state != "applied"]

    @property
    def findings(self) -> int:
        """What makes `status --exit-code` return 1: entries not up to date, and problems of the folder."""
        return len(self.attention) + len(self.problems)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.migrations:
            out[e.state] = out.get(e.state, 0) + 1
        return out

    @property
    def exit_code(self) -> int:
        return FINDINGS if self.exit_on_findings and self.findings else 0

    def lines(self, quiet: bool = False) -> list[str]:
        out = []
        for e in self.migrations:
            when = f"  {e.applied_at} by {e.applied_by}" if e.applied_at else ""
            took = f" in {e.duration_ms} ms" if e.duration_ms is not None else ""
            out.append(f"{e.state:<8} {e.id}{when}{took}{'  (' + e.note + ')' if e.note else ''}")
        out += [f"{e.state:<8} {e.id}{'  (' + e.note + ')' if e.note else ''}"
                for e in self.repeatables if e.state != "applied"]
        out += [f"problem  {p['problem']}" + (f"\n         fix: {p['hint']}" if p["hint"] else "")
                for p in self.problems]
        return out + [self.summary()]

    def summary(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in self.counts().items()) or "no migrations"
        problems = (f"; {len(self.problems)} problem(s) in migrations/: migrate and rollback refuse it"
                    if self.problems else "")
        return (f"{self.database}: at {self.version or 'no migration (none applied)'}; {counts}; "
                f"{len(self.repeatables)} repeatable object(s), "
                f"{sum(e.state != 'applied' for e in self.repeatables)} not up to date{problems}")

    def as_dict(self) -> dict:
        return {"database": self.database, "version": self.version, "counts": self.counts(),
                "migrations": [asdict(e) for e in self.migrations],
                "repeatables": [{k: v for k, v in asdict(e).items() if k != "duration_ms"} for e in self.repeatables],
                "problems": self.problems}


def status(url: str, project: Project, *, exit_code: bool = False) -> StatusReport:
    """`exit_code`: the report's exit code is 1 when anything is not up to date (--exit-code)."""
    problems: list[DbtoolError] = []
    files = migrations.read(project.migrations_dir, project.root, problems=problems)
    reps = repeatables.read(project.sql_dir, project.root)
    with db.connection(url) as conn:
        citus.refuse_worker(conn, "the migration history is kept on the coordinator only")
        report = StatusReport(database=db.scalar(conn, "SELECT current_database()"), exit_on_findings=exit_code)
        done = ledger.applied(conn)
        report.migrations = _migrations(files, done)
        report.repeatables = _repeatables(conn, reps)
    report.problems = [{"problem": p.message, "hint": p.hint} for p in problems]
    return report


def _migrations(files, done: dict[str, ledger.Applied]) -> list[Entry]:
    out = []
    for m in files:
        rec = done.get(m.id)
        if rec is None:
            out.append(Entry(m.id, "pending"))
            continue
        state, notes, accepted = "applied", [], None
        if rec.checksum != m.checksum and rec.checksum in m.accepted_checksums:
            reason = m.accepted_checksums[rec.checksum]
            accepted = {"checksum": rec.checksum, "reason": reason}
            notes.append(f"edited after it was applied; the file accepts the old checksum: {reason}")
        elif rec.checksum != m.checksum:
            state = "changed"
            notes.append(f"edited after it was applied; the database recorded checksum {rec.checksum}")
        if (state == "applied" and rec.rollback_checksum and m.rollback_checksum
                and rec.rollback_checksum != m.rollback_checksum):
            notes.append("rollback file edited since applied")
        out.append(Entry(m.id, state, f"{rec.applied_at:%Y-%m-%d %H:%M:%S%z}", rec.applied_by,
                         "; ".join(notes) or None, accepted, rec.duration_ms))
    known = {m.id for m in files}
    for mid, rec in done.items():
        if mid not in known:
            out.append(Entry(mid, "missing", f"{rec.applied_at:%Y-%m-%d %H:%M:%S%z}", rec.applied_by,
                             "applied, but the file is gone", duration_ms=rec.duration_ms))
    return out


def _repeatables(conn, reps) -> list[Entry]:
    plan = repeatables.plan(conn, reps)
    out = []
    for r in reps:
        reason = plan.reasons.get(r.rel)
        if reason is None:
            out.append(Entry(r.rel, "applied"))
        elif reason == "missing":
            out.append(Entry(r.rel, "pending", note=f"{r.label} is missing from the database"))
        else:
            out.append(Entry(r.rel, "changed" if reason == "changed" else "pending"))
    out += [Entry(path, "missing", note=f"file removed; migrate drops {identity}") for path, _, identity in plan.drop]
    return out
