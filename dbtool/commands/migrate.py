"""`dbtool migrate`: apply pending migrations, then changed repeatable objects, then cron jobs."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import cron, db, engine, ledger, migrations, repeatables
from ..config import Project
from ..engine import Progress, Settings, _quiet
from ..errors import DbtoolError
from ..migrations import Migration


@dataclass
class MigrateResult:
    database: str
    dry_run: bool
    applied: list[dict] = field(default_factory=list)
    # applied files edited since, whose `-- dbtool-accept-checksum:` names the recorded checksum:
    # {id, recorded, checksum, reason}; the record is brought to the file's checksum (not with --dry-run)
    accepted: list[dict] = field(default_factory=list)
    repeatables: list[str] = field(default_factory=list)
    repeatables_pending: list[dict] = field(default_factory=list)
    repeatables_dropped: list[str] = field(default_factory=list)
    cron: dict | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def load(project: Project) -> tuple[list[Migration], list[repeatables.Repeatable]]:
    return (migrations.read(project.migrations_dir, project.root),
            repeatables.read(project.sql_dir, project.root))


def select_target(files: list[Migration], to: str | None) -> list[Migration]:
    if to is None:
        return files
    ids = [m.id for m in files]
    return files[: ids.index(migrations.find_id(ids, to)) + 1]


def check_integrity(project: Project, files: list[Migration], done: dict[str, ledger.Applied]) -> list[dict]:
    """Refuse to go on when an applied file was edited or deleted: the database no longer matches it.

    An edited file whose `-- dbtool-accept-checksum:` lines name the checksum the database recorded
    is not refused: the project declares that the edit changes nothing for a database that applied
    that version. Those are returned, {id, recorded, checksum, reason} in apply order, for the caller
    to record (`record_accepted`, under the migration lock) or report."""
    by_id = {m.id: m for m in files}
    accepted = []
    for mid, rec in done.items():
        m = by_id.get(mid)
        if m is None:
            raise DbtoolError(f"{project.get('migrations')}/{mid}.sql was applied on {rec.applied_at:%Y-%m-%d %H:%M} "
                              "but the file is gone",
                              hint=f"restore the file, or run `dbtool repair --forget {mid}` if it was removed on purpose")
        if m.checksum == rec.checksum:
            continue
        if rec.checksum in m.accepted_checksums:
            accepted.append({"id": mid, "recorded": rec.checksum, "checksum": m.checksum,
                             "reason": m.accepted_checksums[rec.checksum]})
            continue
        raise DbtoolError(f"{migrations.rel(m.path, project.root)} was edited after it was applied on "
                          f"{rec.applied_at:%Y-%m-%d %H:%M} (checksum {rec.checksum[:12]} is now {m.checksum[:12]})",
                          hint="restore the file and put the change in a new migration, or run "
                               f"`dbtool repair --accept {mid}` if the edit changes nothing in the database; if it "
                               "changes nothing for any database that applied the old file, the file can say so for "
                               f"all of them: `-- {migrations.ACCEPT_DIRECTIVE}: {rec.checksum} because <reason>` in "
                               "its header (docs/engine.md)")
    order = {m.id: i for i, m in enumerate(files)}
    return sorted(accepted, key=lambda a: order[a["id"]])


def record_accepted(conn, accepted: list[dict]) -> None:
    """Bring the records of accepted edits to the files' checksums, with a dbtool.log row each, in
    one transaction. Call under the migration lock, after check_integrity."""
    if not accepted:
        return
    with conn.transaction():
        for a in accepted:
            ledger.accept_checksum(conn, a["id"], a["recorded"], a["checksum"], a["reason"])


def migrate(url: str, project: Project, *, to: str | None = None, dry_run: bool = False,
            settings: Settings | None = None, progress: Progress = _quiet, sync_cron: bool = True) -> MigrateResult:
    settings = settings or Settings.from_project(project)
    files, reps = load(project)
    target = select_target(files, to)
    at_head = len(target) == len(files)
    with db.connection(url) as conn:
        result = MigrateResult(database=db.scalar(conn, "SELECT current_database()"), dry_run=dry_run)
        if dry_run:
            return _dry_run(conn, project, files, target, reps, result)
        ledger.lock(conn, settings.lock_wait)
        try:
            ledger.ensure(conn)
            done = ledger.applied(conn)
            result.accepted = check_integrity(project, files, done)
            record_accepted(conn, result.accepted)
            pending = [m for m in target if m.id not in done]
            for i, m in enumerate(pending, 1):
                progress("apply", m.id, {"n": i, "of": len(pending), "transactional": m.transactional})
                ms = engine.apply(conn, project, m, settings)
                result.applied.append({"id": m.id, "ms": ms})
                progress("applied", m.id, {"n": i, "of": len(pending), "ms": ms})
            ledger.adopt(conn, project.get("owner_role"))
            result.repeatables, result.repeatables_dropped, result.repeatables_pending = engine.reapply(
                conn, project, reps, settings, strict=at_head, progress=progress)
            if sync_cron:
                result.cron = cron.sync(url, conn).as_dict()
        finally:
            ledger.unlock(conn)
    return result


def _dry_run(conn, project, files, target, reps, result: MigrateResult) -> MigrateResult:
    done = ledger.applied(conn)
    result.accepted = check_integrity(project, files, done)
    for m in target:
        if m.id not in done:
            result.applied.append({"id": m.id, "statements": len(m.statements), "transactional": m.transactional})
    plan = repeatables.plan(conn, reps)
    result.repeatables = [r.rel for r in plan.apply]
    result.repeatables_dropped = [p for p, _, _ in plan.drop]
    return result


def backup_first(url: str, project: Project, to: str | None, backup_dir: str | None, progress=None) -> str | None:
    """migrate --backup-first: a backup, but only when the run will change something; its path."""
    from . import backup as backup_cmd  # pg_dump, gpg, boto3: only when asked for

    plan = migrate(url, project, to=to, dry_run=True)
    if not (plan.applied or plan.repeatables or plan.repeatables_dropped):
        return None
    return str(backup_cmd.backup(url, backup_dir or backup_cmd.default_dir(), progress=progress).archive)
