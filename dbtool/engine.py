"""Applying and undoing one migration, each with its record in the same transaction."""

from __future__ import annotations

import itertools
import re
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

import psycopg

from . import db, ledger, lockretry, migrations, repeatables, runner
from .config import DEFAULTS, Project
from .errors import DbtoolError, UsageError
from .migrations import Migration

Progress = Callable[[str, str, dict], None]  # (event, subject, info)


def silent(event: str, subject: str, info: dict) -> None:
    pass


DURATION_RE = re.compile(r"^\s*\d+(\.\d+)?\s*(us|ms|s|min|h|d)?\s*$")


@dataclass
class Settings:
    lock_timeout: str = DEFAULTS["lock_timeout"]
    statement_timeout: str = DEFAULTS["statement_timeout"]
    lock_wait: str = DEFAULTS["advisory_lock_timeout"]
    # CREATE INDEX CONCURRENTLY waits for older transactions without blocking anyone: let it wait.
    concurrent_lock_timeout: str = DEFAULTS["concurrent_lock_timeout"]
    # A migration that times out on a lock (or loses a deadlock) is rolled back and run again, this
    # many more times, after a pause that starts at lock_retry_delay and doubles up to the maximum.
    lock_retries: int = int(DEFAULTS["lock_retries"])
    lock_retry_delay: str = DEFAULTS["lock_retry_delay"]
    lock_retry_max_delay: str = DEFAULTS["lock_retry_max_delay"]

    @classmethod
    def from_project(cls, project: Project, **overrides) -> "Settings":
        s = cls(lock_timeout=project.get("lock_timeout"), statement_timeout=project.get("statement_timeout"),
                lock_wait=project.get("advisory_lock_timeout"),
                concurrent_lock_timeout=project.get("concurrent_lock_timeout"),
                lock_retries=_retries_value(project.get("lock_retries"), "lock_retries in [tool.dbtool]"),
                lock_retry_delay=project.get("lock_retry_delay"),
                lock_retry_max_delay=project.get("lock_retry_max_delay"))
        for k, v in overrides.items():
            if v is not None:
                setattr(s, k, v)
        s.check()
        return s

    def check(self) -> None:
        """Bad durations are usage errors, found before anything connects."""
        for name in ("lock_timeout", "statement_timeout", "lock_wait", "concurrent_lock_timeout",
                     "lock_retry_delay", "lock_retry_max_delay"):
            if not DURATION_RE.match(str(getattr(self, name))):
                raise UsageError(f"{name.replace('_', '-')} {getattr(self, name)!r} is not a duration",
                                 hint="e.g. 5s, 500ms, 2min, 1h (0 means no limit)")
        _retries_value(self.lock_retries, "--lock-retries")


def _retries_value(value, what: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = -1
    if n < 0 or str(value).strip() != str(n):
        raise UsageError(f"{what} {value!r} is not a number of retries", hint="0 or more (0: never retry)")
    return n


@dataclass
class Outcome:
    ms: int  # the successful attempt's run
    attempts: int = 1


def _shown(project: Project, path) -> str:
    return migrations.rel(path, project.root)


def _run_in_transaction(conn, stmts, path, text: str, shown: str, settings: Settings) -> None:
    """Inside the caller's transaction: timeouts local to it, the statements, then the caller's role
    back (a file's SET LOCAL ROLE must not own the ledger record written next)."""
    runner.session_settings(conn, settings.lock_timeout, settings.statement_timeout, local=True)
    runner.run(conn, stmts, path, text, shown)
    conn.execute("RESET ROLE")


def _run_each(conn, stmts, path, text: str, shown: str, settings: Settings, done: list[int],
              retry: lockretry.Retry | None = None) -> None:
    """Outside a transaction, each statement committing on its own; CONCURRENTLY gets its own lock
    timeout. Appends the index of each statement that ran to `done`. With `retry`, a statement that
    timed out on a lock (and so did nothing) runs again, unless it may have committed part of its work."""
    for i, stmt in enumerate(stmts):
        concurrent = runner.is_concurrent(stmt.sql)
        for attempt in itertools.count(1):
            runner.session_settings(conn, settings.concurrent_lock_timeout if concurrent else settings.lock_timeout,
                                    settings.statement_timeout, local=False)
            started = time.monotonic()
            try:
                with retry.attempt() if retry else nullcontext():
                    if concurrent and attempt > 1:
                        _drop_failed_build(conn, stmt)
                    runner.run(conn, [stmt], path, text, shown)
                break
            except DbtoolError as err:
                if retry is None or not retry.again(err, started, safe=runner.retry_safe(stmt.sql)):
                    raise
        done.append(i)


def _drop_failed_build(conn, stmt) -> None:
    """Before a CREATE INDEX CONCURRENTLY runs again: a build that timed out after it began left an
    INVALID index, which IF NOT EXISTS would keep. Dropping it waits for the same sessions the build
    waited for, so failing to drop it is one more lock timeout."""
    names = runner.invalid_indexes(conn, runner.concurrent_index_names([stmt]))
    left = names - set(runner.drop_indexes(conn, names))
    if left:
        err = DbtoolError(f"could not drop the INVALID index {', '.join(sorted(left))} a timed-out build left")
        err.sqlstate = "55P03"
        raise err


def apply(conn: psycopg.Connection, project: Project, m: Migration, settings: Settings, *,
          watcher: lockretry.Watcher | None = None, progress: Progress = silent) -> Outcome:
    """Apply one migration and record it, retrying it when it cannot get its locks (lockretry);
    `watcher` names the sessions it waited for."""
    retry = lockretry.Retry(conn, m.id, m.checksum, settings.lock_retries, settings.lock_timeout,
                            settings.lock_retry_delay, settings.lock_retry_max_delay, watcher, progress)
    if m.transactional:
        return Outcome(_apply_transactional(conn, project, m, settings, retry), retry.number)
    t0 = time.monotonic()
    _apply_autocommit(conn, project, m, settings, retry)
    ms = int((time.monotonic() - t0) * 1000)
    with conn.transaction():
        ledger.record(conn, m, ms, note=retry.note())
    return Outcome(ms, retry.number)


def _apply_transactional(conn, project: Project, m: Migration, settings: Settings, retry: lockretry.Retry) -> int:
    """The migration and its record in one transaction; a lock failure rolls it all back, and the
    whole transaction runs again (the advisory lock, a session lock, stays held)."""
    while True:
        t0 = time.monotonic()
        try:
            with retry.attempt(), conn.transaction():
                _run_in_transaction(conn, m.statements, m.path, m.text, _shown(project, m.path), settings)
                ms = int((time.monotonic() - t0) * 1000)
                ledger.record(conn, m, ms, note=retry.note())
            return ms
        except DbtoolError as err:
            if not retry.again(err, t0):
                raise
        finally:
            _reset_session(conn)  # a migration's plain SET must not reach the next one


def _apply_autocommit(conn, project: Project, m: Migration, settings: Settings, retry: lockretry.Retry) -> None:
    """A `-- transactional: false` migration: each statement commits on its own. On failure, undo the
    steps done with their paired rollback statements and drop the INVALID indexes of this file."""
    names = runner.concurrent_index_names(m.statements)
    # A run killed during CREATE INDEX CONCURRENTLY leaves an INVALID index that IF NOT EXISTS would keep.
    runner.drop_indexes(conn, runner.invalid_indexes(conn, names))
    done: list[int] = []
    try:
        _run_each(conn, m.statements, m.path, m.text, _shown(project, m.path), settings, done, retry)
    except DbtoolError as err:
        notes = _compensate(conn, m, done)
        left = runner.invalid_indexes(conn, names)
        dropped = runner.drop_indexes(conn, left)
        notes += [f"dropped INVALID index {i}" for i in dropped]
        notes += [f"could not drop INVALID index {i}: drop it by hand" for i in sorted(left - set(dropped))]
        err.detail = "\n".join(filter(None, [err.detail, *notes]))
        raise
    finally:
        _reset_session(conn)


def _reset_session(conn) -> None:
    """Undo what a migration may have SET for the session (RESET ALL keeps the role)."""
    conn.execute("RESET ALL")
    conn.execute("RESET ROLE")


def _compensate(conn, m: Migration, done: list[int]) -> list[str]:
    """Run the paired rollback statement of every step done, newest first; say what failed."""
    notes = []
    for i in reversed(done):
        comp = m.rollback[-1 - i]
        try:
            conn.execute(comp.sql, prepare=False)
            notes.append(f"undid statement {i + 1} with {m.rollback_path.name}:{comp.line}")
        except psycopg.Error as exc:
            notes.append(f"could not undo statement {i + 1}: {db.server_error(exc).message}")
    return notes


def undo(conn: psycopg.Connection, project: Project, m: Migration, settings: Settings) -> int:
    """Run a migration's rollback file and remove its record, in one transaction when it is
    transactional; returns its duration in ms, which the dbtool.log row records as apply's does."""
    t0 = time.monotonic()
    shown = _shown(project, m.rollback_path)
    try:
        if m.transactional:
            with conn.transaction():
                _run_in_transaction(conn, m.rollback, m.rollback_path, m.rollback_text, shown, settings)
                ms = int((time.monotonic() - t0) * 1000)
                ledger.unrecord(conn, m.id, m.checksum, ms)
        else:
            _run_each(conn, m.rollback, m.rollback_path, m.rollback_text, shown, settings, [])
            ms = int((time.monotonic() - t0) * 1000)
            with conn.transaction():
                ledger.unrecord(conn, m.id, m.checksum, ms)
    finally:
        _reset_session(conn)
    return ms


def reapply(conn: psycopg.Connection, project: Project, reps: list[repeatables.Repeatable], settings: Settings,
            *, strict: bool, progress: Progress = silent) -> tuple[list[str], list[str], list[dict]]:
    """Re-apply the repeatable files that are new, changed or whose object is gone, and drop the
    objects of deleted files, in one transaction. Returns (applied, dropped, pending) paths; with
    `strict` (the database is at head) a file that cannot apply is an error, else it waits."""
    plan = repeatables.plan(conn, reps)
    if not plan.apply and not plan.drop:
        return [], [], []
    progress("repeatables", "", {"count": len(plan.apply), "drop": len(plan.drop)})
    with conn.transaction():
        applied, pending = repeatables.apply(conn, plan, strict=strict, run=run_repeatable(conn, project, settings))
    return ([r.rel for r in applied], [p for p, _, _ in plan.drop],
            [{"path": r.rel, "waits_for": e.message} for r, e in pending])


def run_repeatable(conn: psycopg.Connection, project: Project, settings: Settings):
    def run(r: repeatables.Repeatable) -> None:
        stmts = migrations.locate(r.text, migrations.split(r.text, r.path, project.root))
        runner.session_settings(conn, settings.lock_timeout, settings.statement_timeout, local=True)
        try:
            runner.run(conn, stmts, r.path, r.text, r.rel)
        except DbtoolError as err:
            raise repeatables.RepeatableError(getattr(err, "sqlstate", "") or "", err) from None
    return run
