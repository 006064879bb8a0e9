"""`dbtool migrate`: apply pending migrations, then changed repeatable objects, then cron jobs (the
run itself is dbtool.runs); `--dry-run` as a script to review."""

from __future__ import annotations

from dataclasses import dataclass

from .. import ledger, runner, runs
from ..runs import MigrateResult, check_integrity, load, record_accepted, select_target

__all__ = ["MigrateResult", "Migrated", "check_integrity", "load", "migrate", "plan_script", "record_accepted",
           "select_target"]


@dataclass
class Migrated(MigrateResult):
    """A migrate run as `dbtool migrate` shows it."""

    def lines(self, quiet: bool = False) -> list[str]:
        """The run's lines, then its one-line summary; -q prints the summary only. A dry run prints the
        plan as an SQL script to review (dbtool's own steps as comments)."""
        if self.dry_run:
            plan = [] if quiet else runs.accepted_lines(self.accepted, True, prefix="-- ") + [plan_script(self)]
            return plan + [f"-- {self.summary()}"]
        if quiet:
            return [self.summary()]
        cron = self.cron or {}
        return (runs.accepted_lines(self.accepted, False) + [f"citus: {c}" for c in self.citus]
                + [f"re-applied {r}" for r in self.repeatables]
                + [f"dropped the object of removed file {r}" for r in self.repeatables_dropped]
                + [f"waiting: {p['path']} ({p['waits_for']})" for p in self.repeatables_pending]
                + [f"cron: {k} {n}" for k in ("scheduled", "updated", "unscheduled") for n in cron.get(k) or []]
                + [self.summary()])


def migrate(url: str, project, *, backup: str | None = None, **options) -> Migrated:
    """runs.migrate; `backup` is the archive `--backup-first` wrote before it, for the summary."""
    res = Migrated(**runs.migrate(url, project, **options).__dict__)
    res.backup = backup
    return res


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def plan_script(res: MigrateResult) -> str:
    """`migrate --dry-run` for a DBA's review: the SQL each pending migration would run, in order,
    wrapped in what dbtool does around it (the lock, the transaction, the session settings, the
    record), as a script to read; dbtool's own steps are comments."""
    s = res.session or {}
    lock = s.get("advisory_lock") or {}
    out = [f"-- dbtool migrate --dry-run on {res.database}: nothing has been run",
           f"-- The migration lock: {lock.get('sql')}, retried for up to {lock.get('wait')} (--lock-wait),",
           "-- held by this connection for the whole run and released at its end (pg_advisory_unlock)."]
    if s.get("lock_retries"):
        out.append(f"-- A migration that times out on a lock (55P03) or loses a deadlock (40P01) is rolled back and "
                   f"run again, up to {s['lock_retries']} more time(s),")
        out.append(f"-- after {s.get('lock_retry_delay')}, then twice as long each time (at most "
                   f"{s.get('lock_retry_max_delay')}, jittered), the migration lock still held (--lock-retries).")
    if s.get("creates_ledger"):
        out.append(f"-- dbtool first creates its bookkeeping: schema {ledger.SCHEMA} (migrations, repeatables, log).")
    for m in res.applied:
        n = m["statements"]
        out.append("")
        if m["transactional"]:
            out += [f"-- {m['id']} ({m['path']}, {n} statement(s)): one transaction, with its record",
                    "BEGIN;",
                    f"SET LOCAL lock_timeout = {_quote(s.get('lock_timeout'))};",
                    f"SET LOCAL statement_timeout = {_quote(s.get('statement_timeout'))};"]
            out += [f"-- {m['path']}:{st['line']}\n{st['sql']};" for st in m["sql"]]
            out += [f"-- dbtool: RESET ROLE; record {m['id']} in dbtool.migrations and dbtool.log", "COMMIT;"]
            continue
        out += [f"-- {m['id']} ({m['path']}, {n} statement(s)): transactional: false, each statement commits "
                "on its own;",
                "-- dbtool first drops INVALID indexes this file builds that a killed run left, and on failure "
                "runs the paired rollback statements of the steps done"]
        for st in m["sql"]:
            if runner.is_concurrent(st["sql"]):
                out.append("-- CONCURRENTLY waits for older transactions without blocking anyone: "
                           "concurrent_lock_timeout (0: no limit)")
            out += [f"SET lock_timeout = {_quote(st['lock_timeout'])};",
                    f"SET statement_timeout = {_quote(st['statement_timeout'])};",
                    f"-- {m['path']}:{st['line']}\n{st['sql']};"]
        out.append(f"-- dbtool: RESET ALL; record {m['id']} in dbtool.migrations and dbtool.log")
    if res.repeatables or res.repeatables_dropped:
        out += ["", "-- Then, in one transaction, the repeatable objects (each file as it is in sql/):"]
        out += [f"--   re-apply {r} ({res.repeatable_reasons.get(r, 'changed')})" for r in res.repeatables]
        out += [f"--   drop the object of removed file {r}" for r in res.repeatables_dropped]
    out += ["", "-- Then reconcile pg_cron's jobs with the project's cron table (docs/cron.md)."]
    return "\n".join(out)
