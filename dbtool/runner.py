"""Running statements from a file, so that a server error points at the file, line and column."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

from . import db
from .errors import DatabaseFailure
from .migrations import Statement, code_start, position

HINTS = {
    "55P03": "another session holds a lock this statement needs; retry when it is done, or raise --lock-timeout",
    "57014": "the statement ran longer than statement_timeout; raise --statement-timeout if that is expected",
}


def run(conn: psycopg.Connection, statements: list[Statement], path: Path, text: str, shown: str) -> None:
    """Execute statements in order (migrations.split() already left out comment-only ones); a
    psycopg error becomes `shown:line:col: SQLSTATE message`."""
    for s in statements:
        try:
            conn.execute(s.sql, prepare=False)
        except psycopg.Error as exc:
            raise statement_error(exc, s, text, shown) from None


def statement_error(exc: psycopg.Error, stmt: Statement, text: str, shown: str) -> DatabaseFailure:
    diag = exc.diag
    pos = diag.statement_position
    line, col = position(stmt, text, int(pos) if pos else None)
    err = db.server_error(exc, f"{shown}:{line}:{col}")
    details = [d for d in (diag.message_detail, _context(diag.context)) if d]
    err.detail = "\n".join(details) or None
    err.hint = diag.message_hint or HINTS.get(diag.sqlstate or "")
    err.sqlstate = diag.sqlstate
    return err


def _context(context: str | None) -> str | None:
    # The context of an error inside a DO block or function says where in the body it failed.
    if not context:
        return None
    lines = [ln for ln in context.splitlines() if "PL/pgSQL" in ln or "SQL statement" in ln or "SQL function" in ln]
    return "; ".join(lines[:3]) or None


def session_settings(conn: psycopg.Connection, lock_timeout: str, statement_timeout: str, local: bool) -> None:
    conn.execute("SELECT set_config('lock_timeout', %s, %s), set_config('statement_timeout', %s, %s)",
                 [lock_timeout, local, statement_timeout, local])


CONCURRENT_INDEX_RE = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?((?:\"[^\"]+\"|\w+)(?:\.(?:\"[^\"]+\"|\w+))?)",
    re.IGNORECASE)


def is_concurrent(sql: str) -> bool:
    return re.search(r"\bCONCURRENTLY\b", sql, re.IGNORECASE) is not None


# Statements that may commit part of their work before a lock timeout cancels them (a procedure
# that COMMITs, a DO block in autocommit), or that leave a half-built index behind (REINDEX
# CONCURRENTLY's *_ccnew): running them again is not known to be safe, so they are not retried.
NOT_RETRIED_RE = re.compile(r"^(CALL|DO)\b|^REINDEX\b.*\bCONCURRENTLY\b", re.IGNORECASE | re.DOTALL)


def retry_safe(sql: str) -> bool:
    """Whether a statement run on its own (autocommit) can be run again after a lock timeout."""
    start = code_start(sql)
    return NOT_RETRIED_RE.match(sql[max(start, 0):]) is None


def concurrent_index_names(statements: list[Statement]) -> set[str]:
    """The bare names of the indexes a file builds CONCURRENTLY."""
    names = set()
    for s in statements:
        for m in CONCURRENT_INDEX_RE.finditer(s.sql):
            last = m.group(1).split(".")[-1]
            names.add(last[1:-1] if last.startswith('"') else last.lower())
    return names


def invalid_indexes(conn: psycopg.Connection, names: set[str]) -> set[str]:
    """INVALID indexes with one of these names, except those another session is building right now."""
    if not names:
        return set()
    return {r[0] for r in conn.execute(
        """SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           WHERE NOT i.indisvalid AND c.relname = ANY (%s)
             AND i.indexrelid NOT IN (SELECT index_relid FROM pg_stat_progress_create_index
                                      WHERE pid <> pg_backend_pid())""", [list(names)]).fetchall()}


def drop_indexes(conn: psycopg.Connection, names: set[str]) -> list[str]:
    """Drop INVALID indexes left by a failed or killed CREATE INDEX CONCURRENTLY; returns the dropped."""
    dropped = []
    for name in sorted(names):
        try:
            conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            dropped.append(name)
        except psycopg.Error:
            pass
    return dropped
