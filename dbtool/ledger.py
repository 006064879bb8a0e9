"""dbtool's bookkeeping in the database: schema `dbtool`, written in the migration's own transaction.

yoyo 9 records a migration in a second transaction after the migration commits, hashes only the
migration id, and locks with a row that outlives a killed process. dbtool keeps its own records,
with content checksums, inside the migration's transaction, and serialises runs with a session
advisory lock that the server releases when the connection ends, however it ends.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg

from . import citus, db, replica
from .errors import DatabaseFailure, UsageError

SCHEMA = "dbtool"
LOCK_KEY = 0x6462746F6F6C  # "dbtool": one migration run per database at a time

DDL = [
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"COMMENT ON SCHEMA {SCHEMA} IS 'dbtool bookkeeping: applied migrations, repeatable objects, history'",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.migrations (
        id text PRIMARY KEY,
        checksum text NOT NULL,
        rollback_checksum text,
        applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        applied_by text NOT NULL DEFAULT session_user,
        duration_ms integer,
        transactional boolean NOT NULL DEFAULT true)""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.repeatables (
        path text PRIMARY KEY,
        kind text NOT NULL,
        identity text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT clock_timestamp())""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.log (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        operation text NOT NULL,
        subject text NOT NULL,
        checksum text,
        username text NOT NULL DEFAULT session_user,
        hostname text,
        note text)""",
    # Added after the first release: ledgers made before it gain the column on their next migrate,
    # rollback or baseline (ensure() runs this list whenever something in it is missing).
    f"ALTER TABLE {SCHEMA}.log ADD COLUMN IF NOT EXISTS duration_ms integer",
]


@dataclass
class Applied:
    id: str
    checksum: str
    rollback_checksum: str | None
    applied_at: datetime
    applied_by: str
    duration_ms: int | None


def exists(conn: psycopg.Connection) -> bool:
    return db.scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", [f"{SCHEMA}.migrations"])


def ensure(conn: psycopg.Connection) -> None:
    """Create the bookkeeping tables, or bring an older ledger up to date (columns added since).
    Call under the advisory lock (CREATE ... IF NOT EXISTS races). Runs no DDL when nothing is
    missing, so a role that may write the ledger but does not own it is not refused."""
    if exists(conn) and log_has_duration(conn):
        return
    with conn.transaction():
        for stmt in DDL:
            conn.execute(stmt)


def log_exists(conn: psycopg.Connection) -> bool:
    return db.scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", [f"{SCHEMA}.log"])


def log_has_duration(conn: psycopg.Connection) -> bool:
    """Whether dbtool.log has duration_ms (ledgers made before it was added do not, until ensure())."""
    return db.scalar(conn, """SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s)
                              AND attname = 'duration_ms' AND NOT attisdropped)""", [f"{SCHEMA}.log"])


def adopt(conn: psycopg.Connection, role: str | None) -> None:
    """Give the bookkeeping to the schema's owner role, once it exists, so any member of it can run
    dbtool later, not only the login that happened to run it first. Quietly does nothing when
    the role is missing or this login may not hand the schema over."""
    if not role or not db.scalar(conn, "SELECT to_regrole(%s) IS NOT NULL", [role]):
        return
    if db.scalar(conn, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = %s", [SCHEMA]) == role:
        return
    try:
        with conn.transaction():
            conn.execute(f'ALTER SCHEMA {SCHEMA} OWNER TO "{role}"')
            for table in ("migrations", "repeatables", "log"):
                conn.execute(f'ALTER TABLE {SCHEMA}.{table} OWNER TO "{role}"')
    except psycopg.Error:
        pass


def applied(conn: psycopg.Connection) -> dict[str, Applied]:
    if not exists(conn):
        return {}
    rows = conn.execute(f"""SELECT id, checksum, rollback_checksum, applied_at, applied_by, duration_ms
                            FROM {SCHEMA}.migrations ORDER BY applied_at, id""").fetchall()
    return {r[0]: Applied(*r) for r in rows}


def record(conn: psycopg.Connection, migration, duration_ms: int, note: str | None = None) -> None:
    """note: how many attempts it took, when a lock timeout made dbtool run it again."""
    conn.execute(f"""INSERT INTO {SCHEMA}.migrations (id, checksum, rollback_checksum, duration_ms, transactional)
                     VALUES (%s, %s, %s, %s, %s)""",
                 [migration.id, migration.checksum, migration.rollback_checksum, duration_ms, migration.transactional])
    log(conn, "apply", migration.id, migration.checksum, note, duration_ms=duration_ms)


def record_baseline(conn: psycopg.Connection, migration, note: str) -> None:
    """`dbtool baseline`: record a migration as applied without running it (its objects were found
    in the catalog). duration_ms stays NULL in both tables: nothing ran."""
    conn.execute(f"""INSERT INTO {SCHEMA}.migrations (id, checksum, rollback_checksum, duration_ms, transactional)
                     VALUES (%s, %s, %s, NULL, %s)""",
                 [migration.id, migration.checksum, migration.rollback_checksum, migration.transactional])
    log(conn, "baseline", migration.id, migration.checksum, note)


def accept_checksum(conn: psycopg.Connection, migration_id: str, recorded: str, checksum: str, reason: str) -> None:
    """The file now differs from what was applied, and accepts the recorded checksum
    (`-- dbtool-accept-checksum:`): record the file's checksum, so later runs see an ordinary applied
    file, and log the old one with the reason. rollback_checksum is left as it was: the directive
    speaks for the forward file only."""
    conn.execute(f"UPDATE {SCHEMA}.migrations SET checksum = %s WHERE id = %s AND checksum = %s",
                 [checksum, migration_id, recorded])
    log(conn, "accept-checksum", migration_id, checksum, f"{reason} (recorded checksum was {recorded})")


def unrecord(conn: psycopg.Connection, migration_id: str, checksum: str | None,
             duration_ms: int | None = None) -> None:
    conn.execute(f"DELETE FROM {SCHEMA}.migrations WHERE id = %s", [migration_id])
    log(conn, "rollback", migration_id, checksum, duration_ms=duration_ms)


def log(conn: psycopg.Connection, operation: str, subject: str, checksum: str | None = None,
        note: str | None = None, *, duration_ms: int | None = None) -> None:
    """One row of dbtool.log. duration_ms (apply, rollback) is written only when given, so the
    operations that have none (repair) still work on a ledger that predates the column."""
    if duration_ms is None:
        conn.execute(f"INSERT INTO {SCHEMA}.log (operation, subject, checksum, hostname, note) "
                     "VALUES (%s, %s, %s, %s, %s)", [operation, subject, checksum, socket.gethostname(), note])
        return
    conn.execute(f"INSERT INTO {SCHEMA}.log (operation, subject, checksum, hostname, note, duration_ms) "
                 "VALUES (%s, %s, %s, %s, %s, %s)",
                 [operation, subject, checksum, socket.gethostname(), note, duration_ms])


@dataclass
class LogEntry:
    id: int
    at: datetime
    operation: str  # apply, rollback, baseline, accept-checksum, repair-accept, repair-forget, lock-timeout
    subject: str  # a migration id (a repeatable file's path for baseline)
    checksum: str | None
    username: str
    hostname: str | None
    duration_ms: int | None
    note: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def history(conn: psycopg.Connection, limit: int | None = None) -> list[LogEntry] | None:
    """dbtool.log, newest first (at most `limit` rows); None when the database has no ledger.
    A ledger that predates duration_ms reads as NULL durations (reading never alters the ledger)."""
    if not log_exists(conn):
        return None
    duration = "duration_ms" if log_has_duration(conn) else "NULL::integer"
    rows = conn.execute(f"""SELECT id, at, operation, subject, checksum, username, hostname, {duration}, note
                            FROM {SCHEMA}.log ORDER BY at DESC, id DESC LIMIT %s""", [limit]).fetchall()
    return [LogEntry(*r) for r in rows]


SCHEMA_ON_COORDINATOR = "dbtool changes the schema through the coordinator only"
SCHEMA_ON_PRIMARY = "dbtool changes the schema and its ledger"


def lock(conn: psycopg.Connection, timeout: str) -> None:
    """Take the session advisory lock, waiting at most `timeout`; say who holds it if we give up.

    Waits by polling pg_try_advisory_lock, not by blocking in pg_advisory_lock: a blocked call holds
    a snapshot for as long as it waits, and CREATE INDEX CONCURRENTLY in the run holding the lock
    waits for every older snapshot to go away, which would deadlock the two.

    Every command that changes the schema takes it, so it is also where a Citus worker is refused:
    its schema is the coordinator's to change; and a standby, which accepts no write at all.
    Before the worker's check: a standby of a worker is refused for what it is, read-only."""
    replica.refuse_standby(conn, SCHEMA_ON_PRIMARY)
    citus.refuse_worker(conn, SCHEMA_ON_COORDINATOR)
    deadline = time.monotonic() + _seconds(conn, timeout)
    pause = 0.05
    while not db.scalar(conn, "SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]):
        if time.monotonic() >= deadline:
            raise DatabaseFailure(f"another dbtool run holds the migration lock on this database{_holder(conn)}",
                                  hint=f"waited {timeout}; let it finish, or raise --lock-wait") from None
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


def _seconds(conn: psycopg.Connection, duration: str) -> float:
    """A PostgreSQL duration ('60s', '2min', '500ms', '1 minute') in seconds, parsed by the server."""
    try:
        return db.scalar(conn, "SELECT extract(epoch FROM %s::interval)::float8",
                         [duration if not duration.isdigit() else duration + "ms"])
    except psycopg.Error:
        raise UsageError(f"invalid duration {duration!r}", hint="e.g. 60s, 2min, 500ms") from None


def _holder(conn: psycopg.Connection) -> str:
    holder = conn.execute("""SELECT a.pid, a.usename, a.backend_start
                             FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                             WHERE l.locktype = 'advisory' AND l.granted AND l.database =
                               (SELECT oid FROM pg_database WHERE datname = current_database())
                               AND ((l.classid::bigint << 32) | l.objid::bigint) = %s""", [LOCK_KEY]).fetchone()
    return f" (pid {holder[0]}, user {holder[1]}, connected {holder[2]:%Y-%m-%d %H:%M:%S})" if holder else ""


def unlock(conn: psycopg.Connection) -> None:
    if not conn.closed:
        conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
