"""`dbtool log`: what dbtool did to this database, newest first (Sqitch's `log`), from dbtool.log:
every apply, rollback, baseline, accepted checksum and repair, with who (database user and the
host dbtool ran on), when and, for apply and rollback, how long."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import db, ledger
from ..errors import UsageError


@dataclass
class LogReport:
    database: str
    ledger: bool  # False: dbtool never recorded anything here (no dbtool.log)
    entries: list[ledger.LogEntry] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"database": self.database, "ledger": self.ledger, "entries": [e.as_dict() for e in self.entries]}

    def lines(self, quiet: bool = False) -> list[str]:
        if not self.ledger:
            return [f"{self.database}: no dbtool.log: dbtool has recorded nothing in this database"]
        return [line(e) for e in self.entries] or [f"{self.database}: the log is empty"]


def log(url: str | None, *, limit: int | None = None) -> LogReport:
    """The newest `limit` rows of dbtool.log (all when None). Only reads: a ledger that predates the
    duration column shows no durations rather than being altered."""
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    url = db.resolve_url(url)  # None: DATABASE_URL, then the PG* variables (after the options are checked)
    with db.connection(url) as conn:
        database = db.scalar(conn, "SELECT current_database()")
        entries = ledger.history(conn, limit)
    return LogReport(database, entries is not None, entries or [])


def line(e: ledger.LogEntry) -> str:
    """`at  operation  subject  duration  user@host  note`, one line per entry."""
    took = f"{e.duration_ms} ms" if e.duration_ms is not None else "-"
    who = e.username + (f"@{e.hostname}" if e.hostname else "")
    text = f"{e.at:%Y-%m-%d %H:%M:%S%z}  {e.operation:<15} {e.subject}  {took}  {who}"
    return text + (f"  ({e.note})" if e.note else "")
