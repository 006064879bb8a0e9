"""`dbtool rollback`: undo applied migrations, newest first, each with its record in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .. import citus, cron, db, engine, ledger, migrations, replica, runs
from ..config import Project
from ..engine import Progress, Settings, silent
from ..errors import UsageError


@dataclass
class RollbackResult:
    database: str
    dry_run: bool
    rolled_back: list[dict] = field(default_factory=list)
    accepted: list[dict] = field(default_factory=list)  # as in MigrateResult: edits the files accept
    repeatables_pending: list[dict] = field(default_factory=list)
    cron: dict | None = None
    citus: list[str] = field(default_factory=list)  # as in MigrateResult

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def lines(self, quiet: bool = False) -> list[str]:
        ids = [r["id"] for r in self.rolled_back]
        shown = [] if quiet else runs.accepted_lines(self.accepted, self.dry_run) + (
            [f"would roll back {i}" for i in ids] if self.dry_run else [])
        if not ids:
            return shown + [f"{self.database}: nothing to roll back"]
        return shown + [f"{self.database}: {'would roll back' if self.dry_run else 'rolled back'} {len(ids)} "
                        "migration(s)"]


def check_options(steps: int | None, to: str | None, all_: bool) -> None:
    if sum(x is not None and x is not False for x in (steps, to, all_ or None)) > 1:
        raise UsageError("give only one of --steps, --to and --all")
    if steps is not None and steps < 1:
        raise UsageError("--steps must be at least 1")


def choose(applied_ids: list[str], steps: int | None, to: str | None, all_: bool) -> list[str]:
    """The applied ids to undo, newest first (options already checked by rollback())."""
    newest_first = list(reversed(applied_ids))
    if all_:
        return newest_first
    if to is not None:
        keep = applied_ids.index(migrations.find_id(applied_ids, to, "applied migration"))
        return list(reversed(applied_ids[keep + 1:]))
    return newest_first[:1 if steps is None else steps]


def rollback(url: str | None, project: Project, *, steps: int | None = None, to: str | None = None, all_: bool = False,
             dry_run: bool = False, settings: Settings | None = None, progress: Progress = silent,
             sync_cron: bool = True, confirm: Callable[[list[str], str], None] | None = None) -> RollbackResult:
    """`confirm(ids, database)` is called under the lock with the migrations about to be undone (and
    may raise to refuse), so what was confirmed is what runs, whatever another run did meanwhile."""
    check_options(steps, to, all_)
    url = db.resolve_url(url)  # None: DATABASE_URL, then the PG* variables (after the options are checked)
    settings = settings or Settings.from_project(project)
    files, reps = runs.load(project)
    by_id = {m.id: m for m in files}
    with db.connection(url) as conn:
        result = RollbackResult(database=db.scalar(conn, "SELECT current_database()"), dry_run=dry_run)
        replica.refuse_standby(conn, ledger.SCHEMA_ON_PRIMARY)  # --dry-run too, as migrate's
        citus.refuse_worker(conn, ledger.SCHEMA_ON_COORDINATOR)  # before "nothing to roll back": a worker has no ledger
        if not ledger.exists(conn):
            return result
        if not dry_run:  # as migrate --dry-run: a plan only reads
            ledger.lock(conn, settings.lock_wait)
        try:
            done = ledger.applied(conn)
            result.accepted = runs.check_integrity(project, files, done)
            order = [m.id for m in files if m.id in done]
            targets = choose(order, steps, to, all_)
            if confirm and targets and not dry_run:
                confirm(targets, result.database)
            if not dry_run:  # as migrate does, once confirmed: records that match the files again
                ledger.ensure(conn)  # a ledger older than dbtool.log.duration_ms gains the column
                runs.record_accepted(conn, result.accepted)
            for i, mid in enumerate(targets, 1):
                if dry_run:
                    result.rolled_back.append({"id": mid})
                    continue
                result.citus += citus.prepare(conn, project)  # a rollback may have changed the owner role
                progress("rollback", mid, {"n": i, "of": len(targets)})
                ms = engine.undo(conn, project, by_id[mid], settings)
                result.rolled_back.append({"id": mid, "ms": ms})
                progress("rolled_back", mid, {"n": i, "of": len(targets), "ms": ms})
            if not dry_run and targets:
                # Rolling back may drop what a policy or view stood on: put back what still applies.
                _, _, result.repeatables_pending = engine.reapply(conn, project, reps, settings, strict=False,
                                                                  progress=progress)
                if sync_cron:
                    result.cron = cron.sync(url, conn, cron.table_of(project)).as_dict()
        finally:
            if not dry_run:
                ledger.unlock(conn)
    return result
