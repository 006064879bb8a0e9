"""Applying and undoing one migration, each with its record in the same transaction."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import psycopg

from . import ledger, migrations, repeatables, runner
from .config import Project
from .errors import DbtoolError
from .migrations import Migration

Progress = Callable[[str, str, dict], None]  # (event, subject, info)


def _quiet(event: str, subject: str, info: dict) -> None:
    pass


@dataclass
class Settings:
    lock_timeout: str = "5s"
    statement_timeout: str = "30min"
    lock_wait: str = "60s"

    @classmethod
    def from_project(cls, project: Project, **overrides) -> "Settings":
        s = cls(lock_timeout=project.get("lock_timeout") or cls.lock_timeout,
                statement_timeout=project.settings.get("statement_timeout", cls.statement_timeout),
                lock_wait=project.get("advisory_lock_timeout") or cls.lock_wait)
        for k, v in overrides.items():
            if v is not None:
                setattr(s, k, v)
        return s


def _shown(project: Project, path) -> str:
    return migrations.rel(path, project.root)


def apply(conn: psycopg.Connection, project: Project, m: Migration, settings: Settings) -> int:
    """Apply one migration and record it; returns its duration in ms."""
    t0 = time.monotonic()
    text = m.path.read_text(encoding="utf-8")
    if m.transactional:
        with conn.transaction():
            runner.session_settings(conn, settings.lock_timeout, settings.statement_timeout, local=True)
            runner.run(conn, m.statements, m.path, text, _shown(project, m.path))
            conn.execute("RESET ROLE")
            ms = int((time.monotonic() - t0) * 1000)
            ledger.record(conn, m, ms)
        return ms
    _apply_autocommit(conn, project, m, settings, text)
    ms = int((time.monotonic() - t0) * 1000)
    with conn.transaction():
        ledger.record(conn, m, ms)
    return ms


def _apply_autocommit(conn, project: Project, m: Migration, settings: Settings, text: str) -> None:
    """A `-- transactional: false` migration: each statement commits on its own. On failure, undo the
    steps done with their paired rollback statements and drop any INVALID index left behind."""
    runner.session_settings(conn, settings.lock_timeout, settings.statement_timeout, local=False)
    # A run killed during CREATE INDEX CONCURRENTLY leaves an INVALID index that IF NOT EXISTS would keep.
    runner.drop_indexes(conn, {i for i in runner.invalid_indexes(conn) if _named_in(i, text)})
    before = runner.invalid_indexes(conn)
    done: list[int] = []
    try:
        for i, stmt in enumerate(m.statements):
            runner.run(conn, [stmt], m.path, text, _shown(project, m.path))
            done.append(i)
    except DbtoolError as err:
        _compensate(conn, m, done)
        left = runner.drop_indexes(conn, runner.invalid_indexes(conn) - before)
        if left:
            err.detail = "\n".join(filter(None, [err.detail, f"dropped INVALID index {', '.join(left)}"]))
        raise
    finally:
        _reset_session(conn)


def _reset_session(conn) -> None:
    """Undo what a non-transactional migration may have SET for the session (RESET ALL keeps the role)."""
    conn.execute("RESET ALL")
    conn.execute("RESET ROLE")


def _named_in(index: str, text: str) -> bool:
    bare = index.split(".")[-1].strip('"')
    return bare in text


def _compensate(conn, m: Migration, done: list[int]) -> None:
    for i in reversed(done):
        comp = m.compensation[i] if i < len(m.compensation) else None
        if comp is None:
            continue
        try:
            conn.execute(comp.sql, prepare=False)
        except psycopg.Error:
            pass


def undo(conn: psycopg.Connection, project: Project, m: Migration, settings: Settings) -> int:
    """Run a migration's rollback file and remove its record, in one transaction when it is transactional."""
    t0 = time.monotonic()
    text = m.rollback_path.read_text(encoding="utf-8")
    shown = _shown(project, m.rollback_path)
    if m.transactional:
        with conn.transaction():
            runner.session_settings(conn, settings.lock_timeout, settings.statement_timeout, local=True)
            runner.run(conn, m.rollback, m.rollback_path, text, shown)
            conn.execute("RESET ROLE")
            ledger.unrecord(conn, m.id, m.checksum)
    else:
        runner.session_settings(conn, settings.lock_timeout, settings.statement_timeout, local=False)
        try:
            runner.run(conn, m.rollback, m.rollback_path, text, shown)
        finally:
            _reset_session(conn)
        with conn.transaction():
            ledger.unrecord(conn, m.id, m.checksum)
    return int((time.monotonic() - t0) * 1000)


def run_repeatable(conn: psycopg.Connection, project: Project, settings: Settings):
    def run(r: repeatables.Repeatable) -> None:
        stmts = migrations.locate(r.text, _split(r.text))
        runner.session_settings(conn, settings.lock_timeout, settings.statement_timeout, local=True)
        try:
            runner.run(conn, stmts, r.path, r.text, r.rel)
        except DbtoolError as err:
            raise repeatables.RepeatableError(getattr(err, "sqlstate", "") or "", err) from None
    return run


def _split(text: str) -> list[str]:
    import sqlparse  # yoyo's splitter, so repeatable files split exactly like migrations
    return [s for s in sqlparse.split(text) if migrations.code_start(s) >= 0]
