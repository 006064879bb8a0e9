"""TimescaleDB's background jobs on the project's hypertables: did the last run succeed, will the job
run again, is its work done (`dbtool doctor`).

On PostgreSQL 15.20 every TimescaleDB background job is recorded as failed after its work committed:
job_execute() (tsl/src/bgw_policy/job.c) drops a portal it created but never started, and 15.20's
PortalDrop() refuses that ("cannot drop portal "" while it is being set up", SQLSTATE 24000). Such a
run is reported as what it is, a warning; any other error as a failure (docs/timescaledb.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from .. import db
from . import Check

RUNNING = """EXISTS (SELECT 1 FROM pg_stat_activity a
                       WHERE a.datname = current_database() AND a.application_name = j.application_name)"""
PORTAL_BUG = re.compile(r"cannot drop portal .* while it is being set up")
KINDS = {"policy_compression": "compression policy", "policy_retention": "retention policy",
         "policy_refresh_continuous_aggregate": "continuous aggregate refresh"}


@dataclass
class _Job:
    id: int
    proc_name: str
    owner: str
    scheduled: bool
    max_retries: int
    schedule_interval: object
    config: dict | None
    hypertable: tuple[str, str] | None  # (schema, name) of the job's hypertable
    last_start: datetime | None
    next_start: datetime | None
    last_run_success: bool | None
    total_runs: int | None
    total_successes: int | None
    consecutive_failures: int | None
    consecutive_crashes: int | None
    finished: bool | None  # the last run recorded its end (TimescaleDB counts a run as crashed until then)
    running: bool | None  # a worker of the job is in pg_stat_activity now

    @property
    def label(self) -> str:
        return f"timescaledb job {self.id} ({KINDS.get(self.proc_name, self.proc_name)})"


def checks(conn, hypertables: list[str]) -> list[Check]:
    """One check per TimescaleDB job on the `hypertables` (schema.name) and on their continuous
    aggregates: did the last run succeed (telling PostgreSQL 15.20's false failures from real ones),
    will it run again, and is its work done."""
    if not hypertables or not db.scalar(conn, "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"):
        return []
    # Whether a job's worker runs now: pg_stat_activity is the owner's and the operators' since 0016.
    running = (RUNNING if db.scalar(conn, "SELECT has_table_privilege('pg_catalog.pg_stat_activity', 'SELECT')")
               else "NULL::boolean")
    rows = conn.execute("""
        WITH raw AS (
            SELECT id FROM _timescaledb_catalog.hypertable
            WHERE schema_name || '.' || table_name = ANY (%s)
        ), ours AS (
            SELECT id FROM raw
            UNION ALL
            SELECT ca.mat_hypertable_id FROM _timescaledb_catalog.continuous_agg ca
            WHERE ca.raw_hypertable_id IN (SELECT id FROM raw)
        )
        SELECT j.id, j.proc_name, j.owner::text, j.scheduled, j.max_retries, j.schedule_interval, j.config,
               h.schema_name, h.table_name,
               CASE WHEN isfinite(s.last_start) THEN s.last_start END,
               CASE WHEN isfinite(s.next_start) THEN s.next_start END,
               s.last_run_success, s.total_runs, s.total_successes, s.consecutive_failures, s.consecutive_crashes,
               isfinite(s.last_finish) AND s.last_finish >= s.last_start,
               {running}
        FROM _timescaledb_config.bgw_job j
        JOIN _timescaledb_catalog.hypertable h ON h.id = j.hypertable_id
        LEFT JOIN _timescaledb_internal.bgw_job_stat s ON s.job_id = j.id
        WHERE j.hypertable_id IN (SELECT id FROM ours)
        ORDER BY j.id""".replace("{running}", running), [list(hypertables)]).fetchall()
    if not rows:
        return []
    pg = db.scalar(conn, "SHOW server_version").split()[0]
    ts = db.scalar(conn, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    checks = []
    for r in rows:
        job = _Job(*r[:7], (r[7], r[8]), *r[9:])
        failed = bool(job.total_runs) and job.last_run_success is False and not job.running
        error = _last_error(conn, job.id) if failed and job.finished else None
        checks.append(_health(job, error, pg, ts))
        schedule = _schedule(job, failed)
        if schedule:
            checks.append(schedule)
        backlog = _backlog(conn, job)
        if backlog:
            checks.append(backlog)
    return checks


def _last_error(conn, job_id: int) -> dict | None:
    """The error of the job's latest failed run: from bgw_job_stat_history (a superuser reads it, with
    the C function that raised), else from timescaledb_information.job_history, which shows a role
    the runs of the jobs it owns (SQLSTATE and message)."""
    if db.scalar(conn, "SELECT has_table_privilege('_timescaledb_internal.bgw_job_stat_history', 'SELECT')"):
        row = conn.execute("""SELECT succeeded, data -> 'error_data' FROM _timescaledb_internal.bgw_job_stat_history
                              WHERE job_id = %s ORDER BY id DESC LIMIT 1""", [job_id]).fetchone()
        if row is None:
            return None
        data = row[1] or {}
        return {"crashed": row[0] is None, "sqlerrcode": data.get("sqlerrcode"), "message": data.get("message"),
                "funcname": data.get("funcname"), "detail": data.get("detail")}
    if not db.scalar(conn, "SELECT to_regclass('timescaledb_information.job_history') IS NOT NULL"):
        return None
    row = conn.execute("""SELECT succeeded, sqlerrcode, err_message FROM timescaledb_information.job_history
                          WHERE job_id = %s ORDER BY id DESC LIMIT 1""", [job_id]).fetchone()
    if row is None:
        return None
    return {"crashed": row[0] is None, "sqlerrcode": row[1], "message": row[2], "funcname": None, "detail": None}


def _is_false_failure(error: dict | None) -> bool:
    """PostgreSQL 15.20's PortalDrop refusing the portal TimescaleDB's job_execute created and never
    used, after the job's transaction committed: the run's work is done, its record says failed."""
    return bool(error and error["sqlerrcode"] == "24000" and PORTAL_BUG.match(error["message"] or "")
                and error["funcname"] in (None, "PortalDrop"))


def when(t: datetime | None) -> str:
    return t.isoformat(timespec="seconds") if t else "(not set)"


def _health(job: _Job, error: dict | None, pg: str, ts: str) -> Check:
    if not job.total_runs:
        return Check(job.label, "ok", f"runs as {job.owner}; has not run yet; next start {when(job.next_start)}")
    if job.running:
        return Check(job.label, "ok", f"runs as {job.owner}; running now, since {when(job.last_start)}")
    if job.last_run_success:
        return Check(job.label, "ok", f"runs as {job.owner}; last run {when(job.last_start)} succeeded; next start "
                                      f"{when(job.next_start)}")
    if not job.finished:  # TimescaleDB records a run's end when it ends; without one, the worker died
        return Check(job.label, "missing",
                     f"last run {when(job.last_start)} crashed: no end was recorded and no worker runs it; "
                     f"{job.consecutive_crashes} consecutive crashes",
                     f"see the server log; CALL run_job({job.id}) runs it here and shows its error")
    if _is_false_failure(error):
        return Check(job.label, "warn",
                     f"last run {when(job.last_start)} is recorded as failed, but its work committed: on PostgreSQL "
                     f"{pg} with TimescaleDB {ts} the job commits, then TimescaleDB drops a portal it created and "
                     f"never used, which PostgreSQL refuses (PortalDrop: {error['message']}, SQLSTATE 24000). "
                     f"Recorded: {job.total_successes} successes, {job.consecutive_failures} consecutive failures; "
                     f"the scheduler backs off as after a failure (next start {when(job.next_start)})",
                     f"nothing to repair in the data, and no TimescaleDB release fixes it on PostgreSQL 15 (2.29 "
                     f"dropped 15): keep max_retries = -1 so that it stays scheduled, and watch its backlog check; "
                     f"CALL run_job({job.id}) from a client runs it without the error")
    if error is None:  # a false failure or a real one: this role cannot tell
        return Check(job.label, "warn",
                     f"last run {when(job.last_start)} is recorded as failed ({job.consecutive_failures} consecutive "
                     "failures), and this role may not read why: its work may or may not be done (see the backlog "
                     "check)", f"run doctor as a superuser or as a member of {job.owner}")
    if error["crashed"]:
        return Check(job.label, "missing",
                     f"last run {when(job.last_start)} crashed; {job.consecutive_crashes} consecutive crashes",
                     f"see the server log; CALL run_job({job.id}) runs it here and shows its error")
    detail = f" ({error['detail']})" if error["detail"] else ""
    return Check(job.label, "missing",
                 f"last run {when(job.last_start)} failed: SQLSTATE {error['sqlerrcode']}: "
                 f"{(error['message'] or '').rstrip('.')}{detail}; "
                 f"{job.consecutive_failures} consecutive failures; its work is not (all) done, see the backlog check",
                 f"fix the cause, then CALL run_job({job.id}) to run it now (it raises the error, if any, to you)")


def _schedule(job: _Job, failing: bool) -> Check | None:
    problems, fixes = [], []
    if not job.scheduled:
        problems.append("unscheduled (scheduled = false): it does not run again")
        fixes.append(f"SELECT alter_job({job.id}, scheduled => true);")
    if job.max_retries >= 0 and failing:
        problems.append(f"max_retries = {job.max_retries} while its runs are recorded as failed: TimescaleDB "
                        "unschedules it after that many")
        fixes.append(f"SELECT alter_job({job.id}, max_retries => -1);")
    if not problems:
        return None
    return Check(f"{job.label} schedule", "missing", "; ".join(problems), " ".join(fixes))


def _backlog(conn, job: _Job) -> Check | None:
    """Is the job's work done? A chunk past compress_after still uncompressed, a chunk past drop_after
    still there, events the continuous aggregate has not materialized; each allowed one
    schedule_interval of delay."""
    config = job.config or {}
    name = f"{job.label} backlog"
    schema, table = job.hypertable
    try:
        if job.proc_name == "policy_compression" and isinstance(config.get("compress_after"), str):
            n, oldest, cutoff = conn.execute("""
                SELECT count(*), min(range_start), now() - %s::interval - %s::interval
                FROM timescaledb_information.chunks
                WHERE hypertable_schema = %s AND hypertable_name = %s AND NOT is_compressed
                  AND range_end < now() - %s::interval - %s::interval""",
                [config["compress_after"], job.schedule_interval, schema, table,
                 config["compress_after"], job.schedule_interval]).fetchone()
            if n:
                return Check(name, "missing", f"{n} chunk(s) of {schema}.{table} ending before {when(cutoff)} "
                                              f"(compress_after {config['compress_after']} + one schedule interval) "
                                              f"are not compressed, the oldest from {when(oldest)}",
                             f"CALL run_job({job.id});")
            return Check(name, "ok", f"every chunk of {schema}.{table} older than compress_after "
                                     f"{config['compress_after']} is compressed")
        if job.proc_name == "policy_retention" and isinstance(config.get("drop_after"), str):
            n, oldest = conn.execute("""
                SELECT count(*), min(range_start) FROM timescaledb_information.chunks
                WHERE hypertable_schema = %s AND hypertable_name = %s
                  AND range_end < now() - %s::interval - %s::interval""",
                [schema, table, config["drop_after"], job.schedule_interval]).fetchone()
            if n:
                return Check(name, "missing", f"{n} chunk(s) of {schema}.{table} older than drop_after "
                                              f"{config['drop_after']} (+ one schedule interval) are still there, "
                                              f"the oldest from {when(oldest)}",
                             f"CALL run_job({job.id});")
            return Check(name, "ok", f"no chunk of {schema}.{table} is older than drop_after {config['drop_after']}")
        if job.proc_name == "policy_refresh_continuous_aggregate" and config.get("mat_hypertable_id"):
            return _cagg_backlog(conn, job, config, name)
    except psycopg.errors.InsufficientPrivilege as exc:
        return Check(name, "warn", f"not readable by this role ({db.server_error(exc).message})",
                     f"run doctor as a member of {job.owner}")
    return None


def _cagg_backlog(conn, job: _Job, config: dict, name: str) -> Check:
    """Events older than the refresh window's end (now() - end_offset, one bucket and one
    schedule_interval earlier) but newer than the aggregate's watermark are not in the aggregate."""
    mat = config["mat_hypertable_id"]
    row = conn.execute("""
        SELECT ca.user_view_schema, ca.user_view_name, rh.schema_name, rh.table_name, d.column_name,
               (SELECT bf.bucket_width FROM _timescaledb_catalog.continuous_aggs_bucket_function bf
                WHERE bf.mat_hypertable_id = ca.mat_hypertable_id)
        FROM _timescaledb_catalog.continuous_agg ca
        JOIN _timescaledb_catalog.hypertable rh ON rh.id = ca.raw_hypertable_id
        JOIN _timescaledb_catalog.dimension d ON d.hypertable_id = rh.id AND d.interval_length IS NOT NULL
        WHERE ca.mat_hypertable_id = %s""", [mat]).fetchone()
    if row is None:
        return Check(name, "warn", f"no continuous aggregate has materialization hypertable {mat}", None)
    view_schema, view, raw_schema, raw, column, width = row
    if not db.scalar(conn, """SELECT has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
                              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE n.nspname = %s AND c.relname = %s""", [raw_schema, raw]):
        return Check(name, "warn", f"{raw_schema}.{raw} is not readable by this role",
                     f"run doctor as a member of {job.owner}")
    # The watermark is TimescaleDB's minimum time (4714 BC) before the first refresh: kept in SQL.
    watermark, cutoff, oldest = conn.execute(sql.SQL("""
        WITH w AS (
            SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(%s)) AS mark,
                   now() - coalesce(%s::interval, '0') - coalesce(%s::interval, '0') - %s::interval AS cutoff,
                   now() - %s::interval AS since
        )
        SELECT CASE WHEN w.mark > '0001-01-01' THEN w.mark END, w.cutoff,
               (SELECT min(r.{c}) FROM {t} AS r WHERE r.{c} >= greatest(w.mark, w.since) AND r.{c} < w.cutoff)
        FROM w""").format(c=sql.Identifier(column), t=sql.Identifier(raw_schema, raw)),
        [mat, config.get("end_offset"), width, job.schedule_interval, config.get("start_offset")]).fetchone()
    shown = f"is materialized up to {when(watermark)}" if watermark else "has nothing materialized yet"
    if oldest is not None:
        return Check(name, "missing", f"{view_schema}.{view} {shown}, and events of "
                                      f"{raw_schema}.{raw} from {when(oldest)} to {when(cutoff)} are not in it",
                     f"CALL run_job({job.id});")
    return Check(name, "ok", f"{view_schema}.{view} {shown}; no event older than "
                             f"{when(cutoff)} is left out")


# ----- the connecting role ----------------------------------------------------------------------
