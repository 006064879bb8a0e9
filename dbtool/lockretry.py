"""Retrying a migration that could not get its locks, and naming the session it waited for.

A migration statement that needs a lock another transaction holds waits in the lock queue, and every
later query on that table waits behind it: the application stalls. lock_timeout bounds that stall;
on 55P03 (or 40P01, when the server picks the migration as a deadlock's victim) the attempt is rolled
back, and this module decides whether to run it again, after an exponential, jittered pause, under
the migration lock the run still holds.

Once PostgreSQL has canceled the waiting statement it no longer knows whom it waited for, so a
second connection (the Watcher) samples pg_blocking_pids() of the migrating session while a
migration runs, and only while that session waits for a lock: pg_blocking_pids() briefly takes the
lock manager's partition locks, which a poll of every statement would cost the whole server.
"""

from __future__ import annotations

import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

import psycopg

from . import db, ledger

# What a retry can cure: the attempt was rolled back, nothing of it remains.
RETRYABLE = {"55P03": "lock timeout", "40P01": "deadlock"}
SAMPLE_EVERY = 0.05  # seconds between two looks at the migrating session while it runs

WAITING = "SELECT wait_event_type = 'Lock' FROM pg_catalog.pg_stat_activity WHERE pid = %s"
BLOCKERS = """SELECT a.pid, a.usename, a.application_name, host(a.client_addr), a.state,
                     a.xact_start, a.query_start, left(a.query, 200)
              FROM pg_catalog.pg_stat_activity AS a
              WHERE a.pid = ANY (pg_catalog.pg_blocking_pids(%s))
              ORDER BY a.xact_start NULLS LAST, a.pid"""


@dataclass(frozen=True)
class Blocker:
    """A session the migration waited for, as pg_stat_activity showed it during the wait."""
    pid: int
    user: str | None
    application: str | None
    client: str | None
    state: str | None
    xact_start: datetime | None
    query_start: datetime | None
    query: str | None

    def short(self, query_start: bool = False) -> str:
        """`pid 4242 (app_user, idle in transaction, transaction started 12:00:01)`."""
        parts = [p for p in (self.user, self.state) if p]
        if self.xact_start:
            parts.append(f"transaction started {self.xact_start:%H:%M:%S}")
        if query_start and self.query_start:
            parts.append(f"query started {self.query_start:%H:%M:%S}")
        return f"pid {self.pid}" + (f" ({', '.join(parts)})" if parts else "")

    def long(self) -> str:
        """Everything pg_stat_activity said about it, for the final error's detail."""
        parts = [f"user {self.user}" if self.user else None,
                 f"application {self.application}" if self.application else None,
                 f"from {self.client}" if self.client else None, self.state,
                 f"transaction started {self.xact_start:%Y-%m-%d %H:%M:%S%z}" if self.xact_start else None,
                 f"query started {self.query_start:%H:%M:%S}" if self.query_start else None]
        text = f"pid {self.pid}: " + ", ".join(p for p in parts if p)
        query = " ".join((self.query or "").split())
        return text + (f": {query[:120]}" if query else "")

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Watcher:
    """While armed, samples which sessions block `pid`; keeps the last non-empty sample of the
    current arming. Its connection is opened at the first arming, in its own thread, and closed by
    close(): a run that applies nothing opens none."""

    def __init__(self, url: str, pid: int, every: float = SAMPLE_EVERY):
        self.url, self.pid, self.every = url, pid, every
        self._armed, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: list[Blocker] = []

    @contextmanager
    def watching(self) -> Iterator["Watcher"]:
        self._seen = []
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="dbtool-lock-watch", daemon=True)
            self._thread.start()
        self._armed.set()
        try:
            yield self
        finally:
            self._armed.clear()

    @property
    def seen(self) -> list[Blocker]:
        return list(self._seen)

    def close(self) -> None:
        self._stop.set()
        self._armed.set()  # wake the thread so that it sees the stop
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        conn = None
        try:
            while not self._stop.is_set():
                if not self._armed.wait(0.5) or self._stop.is_set():
                    continue
                try:
                    conn = conn or db.connect(self.url)
                    if db.scalar(conn, WAITING, [self.pid]):
                        rows = conn.execute(BLOCKERS, [self.pid]).fetchall()
                        if rows and self._armed.is_set():
                            self._seen = [Blocker(*r) for r in rows]
                except Exception:  # noqa: BLE001 - a watcher that cannot look must not stop the migration
                    conn = None
                self._stop.wait(self.every)
        finally:
            if conn is not None:
                conn.close()


def _seconds(duration: str) -> float:
    """A duration as [tool.dbtool] and the options take it ('1s', '500ms', '2min'; a bare number is
    milliseconds, as PostgreSQL reads lock_timeout), in seconds."""
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
    text = str(duration).strip()
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz").strip()
    return float(number) * units.get(text[len(number):].strip() or "ms", 1e-3)


def pause(retry: int, first: str, most: str, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number `retry` (1, 2, ...): `first` doubled each time, at most
    `most`, with equal jitter (half of it fixed, half random), so that the pauses grow for sure but do
    not fall into step with a job that holds the table at a fixed period."""
    ceiling = min(_seconds(most), _seconds(first) * 2 ** (retry - 1))
    return ceiling / 2 + rand() * ceiling / 2


@dataclass
class Retry:
    """One migration's (or, without a transaction, one statement's) attempts. again() is called with
    each failure: it says whether to run it again, and meanwhile reports the attempt, writes it to
    dbtool.log and waits; when it gives up it names the blocker in the error."""
    conn: psycopg.Connection
    subject: str  # the migration id
    checksum: str | None
    retries: int
    lock_timeout: str
    first_pause: str
    most_pause: str
    watcher: Watcher | None = None
    progress: Callable[[str, str, dict], None] = lambda event, subject, info: None
    sleep: Callable[[float], None] = time.sleep
    failed: list[dict] = field(default_factory=list)  # {reason, ms, blockers}
    started: float = field(default_factory=time.monotonic)

    @contextmanager
    def attempt(self) -> Iterator[None]:
        if self.watcher is None:
            yield
            return
        with self.watcher.watching():
            yield

    @property
    def number(self) -> int:
        """The attempt running now (1-based)."""
        return len(self.failed) + 1

    def note(self) -> str | None:
        """For the apply record: how many attempts it took, when more than one."""
        if not self.failed:
            return None
        waited = time.monotonic() - self.started
        return (f"attempt {self.number} of {self.retries + 1}, after {_count(self.failed)}; "
                f"{waited:.1f} s since the first attempt")

    def again(self, err, attempt_started: float, safe: bool = True) -> bool:
        """After a failed attempt (already rolled back): True when it should run again (the pause
        has been waited), False when `err` is to be raised (decorated when it was a lock failure)."""
        reason = RETRYABLE.get(getattr(err, "sqlstate", None) or "")
        if reason is None:
            return False
        blockers = self.watcher.seen if self.watcher else []
        self.failed.append({"reason": reason, "ms": int((time.monotonic() - attempt_started) * 1000),
                            "blockers": blockers})
        if not safe or len(self.failed) > self.retries:
            self._log(None)
            self._give_up(err, safe)
            return False
        wait = pause(len(self.failed), self.first_pause, self.most_pause)
        self._log(wait)
        self.progress("retry", self.subject, {"attempt": len(self.failed), "of": self.retries + 1, "reason": reason,
                                              "blockers": blockers, "pause": wait, "message": self._retry_line(wait)})
        self.sleep(wait)
        return True

    def _retry_line(self, wait: float) -> str:
        last = self.failed[-1]
        behind = _behind(last["blockers"])
        return (f"{self.subject}: {last['reason']} (lock_timeout {self.lock_timeout}) on attempt "
                f"{len(self.failed)} of {self.retries + 1}{behind}; rolled back, retrying in {_secs(wait)}")

    def _log(self, wait: float | None) -> None:
        """The failed attempt in dbtool.log, in its own transaction (the attempt's was rolled back)."""
        last = self.failed[-1]
        then = f"retried in {_secs(wait)}" if wait is not None else "gave up"
        note = f"attempt {len(self.failed)} of {self.retries + 1}: {last['reason']}{_behind(last['blockers'])}; {then}"
        try:
            with self.conn.transaction():
                ledger.log(self.conn, "lock-timeout", self.subject, self.checksum, note, duration_ms=last["ms"])
        except psycopg.Error:
            pass  # the audit row is not worth failing the run for (the connection itself may be gone)

    def _give_up(self, err, safe: bool) -> None:
        last = self.failed[-1]
        total = time.monotonic() - self.started
        if not safe:
            err.message += " (not retried: the statement may have committed part of its work)"
        else:
            err.message += (f", on each of {len(self.failed)} attempt(s) over {total:.1f} s"
                            + (f"; blocked by {last['blockers'][0].short()}" if last["blockers"] else ""))
        err.args = (err.message,)  # str(err) says it too
        seen = {b.pid: b for f in self.failed for b in f["blockers"]}
        detail = [b.long() for b in seen.values()]
        err.detail = "\n".join(filter(None, [err.detail, *detail]))
        err.hint = _what_to_do(last["blockers"], self.subject)


def _secs(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 1 else f"{seconds:.1f} s"


def _count(failed: list[dict]) -> str:
    reasons = [f["reason"] for f in failed]
    return ", ".join(f"{reasons.count(r)} {r}(s)" for r in dict.fromkeys(reasons))


def _behind(blockers: list[Blocker]) -> str:
    if not blockers:
        return ""
    more = f" and {len(blockers) - 1} more" if len(blockers) > 1 else ""
    return f" behind {blockers[0].short(query_start=True)}{more}"


def _what_to_do(blockers: list[Blocker], subject: str) -> str:
    again = f"then run dbtool migrate again (it starts at {subject})"
    if not blockers:
        return (f"another session held a lock {subject} needs; find it in pg_locks/pg_stat_activity, let it "
                f"finish, {again}; or allow more waiting with --lock-retries / --lock-timeout")
    b = blockers[0]
    since = f" since {b.xact_start:%H:%M:%S}" if b.xact_start else ""
    return (f"pid {b.pid} has held its transaction open{since}: let it finish (or ask its owner to end it; "
            f"SELECT pg_terminate_backend({b.pid}) ends it, if that is safe), {again}; or allow more waiting "
            "with --lock-retries / --lock-timeout")
