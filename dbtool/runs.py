"""A migrate run: the project's files, their integrity against what the database recorded, the
target, and migrate() itself (pending migrations, then the repeatable files, then pg_cron). Core:
the migrate, rollback, baseline and verify commands and the scratch builds all use it."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import citus, cron, db, engine, ledger, lockretry, migrations, repeatables, replica, runner
from .config import Project
from .engine import Progress, Settings, silent
from .errors import DbtoolError
from .migrations import Migration


@dataclass
class MigrateResult:
    database: str
    dry_run: bool
    # applied: {id, ms, attempts (more than 1 when a lock timeout made it run again)}; with --dry-run,
    # what would run: {id, path, transactional, statements (count),
    # sql: [{line, sql, lock_timeout, statement_timeout}]}
    applied: list[dict] = field(default_factory=list)
    # applied files edited since, whose `-- dbtool-accept-checksum:` names the recorded checksum:
    # {id, recorded, checksum, reason}; the record is brought to the file's checksum (not with --dry-run)
    accepted: list[dict] = field(default_factory=list)
    repeatables: list[str] = field(default_factory=list)
    repeatables_pending: list[dict] = field(default_factory=list)
    repeatables_dropped: list[str] = field(default_factory=list)
    cron: dict | None = None
    # --dry-run: the run's session settings and lock: {advisory_lock: {sql, wait}, lock_timeout,
    # statement_timeout, concurrent_lock_timeout}; and why each repeatable file would be re-applied
    session: dict | None = None
    repeatable_reasons: dict[str, str] = field(default_factory=dict)
    backup: str | None = None  # the archive --backup-first wrote
    citus: list[str] = field(default_factory=list)  # what a Citus coordinator's workers were given (citus.prepare)

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    def summary(self) -> str:
        """The run in one line (all `migrate -q` prints)."""
        would = self.dry_run
        parts = [f"{'would apply' if would else 'applied'} {len(self.applied)} migration(s)"]
        if self.repeatables:
            parts.append(f"{'would re-apply' if would else 're-applied'} {len(self.repeatables)} repeatable object(s)")
        if self.repeatables_dropped:
            parts.append(f"{'would drop' if would else 'dropped'} {len(self.repeatables_dropped)} removed one(s)")
        if self.repeatables_pending:
            parts.append(f"{len(self.repeatables_pending)} repeatable object(s) waiting for a later migration")
        changed = sum(len((self.cron or {}).get(k) or []) for k in ("scheduled", "updated", "unscheduled"))
        if changed:
            parts.append(f"{changed} cron job(s) changed")
        if not (self.applied or self.repeatables or self.repeatables_dropped or self.accepted):
            parts.append("nothing to do")
        if self.backup:
            parts.append(f"backup: {self.backup}")
        return f"{self.database}: " + ", ".join(parts)


def accepted_lines(accepted: list[dict], dry_run: bool, prefix: str = "") -> list[str]:
    """The edited applied files whose new checksum a run recorded (or would): migrate, rollback, baseline."""
    return [f"{prefix}{'would record' if dry_run else 'recorded'} the edited {a['id']} as applied (checksum "
            f"{a['recorded'][:12]} -> {a['checksum'][:12]}; the file accepts the old checksum: {a['reason']})"
            for a in accepted]


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
            settings: Settings | None = None, progress: Progress = silent, sync_cron: bool = True) -> MigrateResult:
    settings = settings or Settings.from_project(project)
    files, reps = load(project)
    target = select_target(files, to)
    at_head = len(target) == len(files)
    with db.connection(url) as conn:
        result = MigrateResult(database=db.scalar(conn, "SELECT current_database()"), dry_run=dry_run)
        if dry_run:
            # a standby would plan what it can never run: its plan is the primary's to make (docs/replicas.md)
            replica.refuse_standby(conn, ledger.SCHEMA_ON_PRIMARY)
            citus.refuse_worker(conn, ledger.SCHEMA_ON_COORDINATOR)  # a worker would list every migration as pending
            return _dry_run(conn, project, files, target, reps, result, settings)
        ledger.lock(conn, settings.lock_wait)
        # names the session a migration waits for; connects only when a migration runs
        watcher = lockretry.Watcher(url, conn.info.backend_pid)
        try:
            ledger.ensure(conn)
            done = ledger.applied(conn)
            result.accepted = check_integrity(project, files, done)
            record_accepted(conn, result.accepted)
            pending = [m for m in target if m.id not in done]
            node = citus.node(conn)
            for i, m in enumerate(pending, 1):
                result.citus += citus.prepare(conn, project, node)  # a migration may have changed the owner role
                progress("apply", m.id, {"n": i, "of": len(pending), "transactional": m.transactional})
                got = engine.apply(conn, project, m, settings, watcher=watcher, progress=progress)
                result.applied.append({"id": m.id, "ms": got.ms, "attempts": got.attempts})
                progress("applied", m.id, {"n": i, "of": len(pending), "ms": got.ms, "attempts": got.attempts})
            ledger.adopt(conn, project.get("owner_role"))
            result.citus += citus.prepare(conn, project, node)
            result.repeatables, result.repeatables_dropped, result.repeatables_pending = engine.reapply(
                conn, project, reps, settings, strict=at_head, progress=progress)
            if sync_cron:
                result.cron = cron.sync(url, conn, cron.table_of(project)).as_dict()
        finally:
            watcher.close()
            ledger.unlock(conn)
    return result


def _dry_run(conn, project, files, target, reps, result: MigrateResult, settings: Settings) -> MigrateResult:
    """What a run would do, read without the lock and without writing: each pending migration's
    statements with the session settings they would run under, the repeatable files to re-apply."""
    done = ledger.applied(conn)
    result.accepted = check_integrity(project, files, done)
    result.session = {
        "advisory_lock": {"sql": f"SELECT pg_try_advisory_lock({ledger.LOCK_KEY})", "wait": settings.lock_wait},
        "lock_timeout": settings.lock_timeout, "statement_timeout": settings.statement_timeout,
        "concurrent_lock_timeout": settings.concurrent_lock_timeout, "creates_ledger": not ledger.exists(conn),
        "lock_retries": settings.lock_retries, "lock_retry_delay": settings.lock_retry_delay,
        "lock_retry_max_delay": settings.lock_retry_max_delay}
    for m in target:
        if m.id not in done:
            result.applied.append({
                "id": m.id, "path": migrations.rel(m.path, project.root), "transactional": m.transactional,
                "statements": len(m.statements),
                "sql": [{"line": st.line, "sql": st.sql[migrations.code_start(st.sql):].strip(),
                         "lock_timeout": (settings.concurrent_lock_timeout
                                          if not m.transactional and runner.is_concurrent(st.sql)
                                          else settings.lock_timeout),
                         "statement_timeout": settings.statement_timeout} for st in m.statements]})
    plan = repeatables.plan(conn, reps)
    result.repeatables = [r.rel for r in plan.apply]
    result.repeatable_reasons = {r.rel: plan.reasons.get(r.rel, "changed") for r in plan.apply}
    result.repeatables_dropped = [p for p, _, _ in plan.drop]
    return result


def behind(url: str, project: Project) -> list[str]:
    """What the database lacks of the project's head: migrations pending or edited since applied (an
    edit the file accepts is not), and repeatable files to re-apply. `dbtool status` says why each."""
    files, reps = load(project)
    with db.connection(url) as conn:
        done = ledger.applied(conn)
        plan = repeatables.plan(conn, reps)
    stale = [m.id for m in files if m.id not in done or (
        done[m.id].checksum != m.checksum and done[m.id].checksum not in m.accepted_checksums)]
    return stale + [r.rel for r in plan.apply]
