"""pg_cron jobs: declared by migrations in a table of the application database, scheduled by dbtool.

pg_cron lives in one database per cluster (cron.database_name), often not the application's. So
migrations only declare the jobs they want, as rows of the project's cron table ([tool.dbtool]
cron_table: name, schedule, command, active), in their own transaction; after every migrate and rollback dbtool reconciles pg_cron with
that table, from the cron database, with cron.schedule_in_database. Jobs are named
`<job>@<database>` because pg_cron job names are unique per cluster user, and several application
databases can share one cron database.

Jobs run as the role that owns the declaring table (the schema's owner role should own it), never as whoever ran dbtool: a superuser's jobs would run functions that an owner-level role
can replace, i.e. make that role a superuser. A superuser running dbtool passes that role to pg_cron;
a member of it schedules after SET ROLE (docs/cron.md).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Iterator

import psycopg
from psycopg import sql

from . import db
from .config import DEFAULTS, Project
from .errors import DbtoolError

DEFAULT_TABLE = DEFAULTS["cron_table"]  # outside a project, and in one that names no cron_table
# The shapes a job's command may take: it runs as whoever runs dbtool, often a superuser, so the
# table must not be a way to run arbitrary SQL as that user (the migrations may guard the table
# with the same CHECK, but a restored dump or a hand-made table might lack it).
COMMAND_RE = re.compile(r"^(SELECT|CALL) \w+\.\w+\(\)$|^(VACUUM( \([A-Z, ]+\))?|ANALYZE)( \w+\.\w+(, \w+\.\w+)*)?$",
                        re.ASCII)


@dataclass(frozen=True)
class Job:
    name: str
    schedule: str
    command: str
    active: bool = True

    def attrs(self) -> dict:
        """The job as a catalog snapshot shows it (keyed by name elsewhere)."""
        return {"schedule": self.schedule, "command": self.command, "active": self.active}


@dataclass
class SyncResult:
    cron_database: str | None = None
    run_as: str | None = None
    scheduled: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unscheduled: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    note: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def table_of(project: Project | None) -> str:
    """The table that declares the project's jobs ([tool.dbtool] cron_table)."""
    return project.get("cron_table") if project is not None else DEFAULT_TABLE


def cron_name(job: str, database: str) -> str:
    return f"{job}@{database}"


def cron_database(conn: psycopg.Connection) -> str | None:
    try:
        return db.scalar(conn, "SELECT current_setting('cron.database_name', true)")
    except psycopg.errors.InsufficientPrivilege:
        user = db.scalar(conn, "SELECT current_user")
        raise DbtoolError(f"role {user} may not read cron.database_name, so dbtool cannot tell where pg_cron lives",
                          hint=f"as a superuser: GRANT pg_read_all_settings TO {user}") from None


def desired(conn: psycopg.Connection, table: str = DEFAULT_TABLE) -> list[Job]:
    if not table or not db.scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", [table]):
        return []
    rows = conn.execute(f"SELECT jobname, schedule, command, active FROM {table} ORDER BY jobname").fetchall()
    jobs = [Job(*r) for r in rows]
    for j in jobs:
        if not COMMAND_RE.fullmatch(j.command):
            raise DbtoolError(f"cron job {j.name!r} in {table} has a command dbtool will not schedule: {j.command!r}",
                              hint="a job may call one function without arguments (SELECT schema.f()), "
                                   "VACUUM or ANALYZE; put anything else in a function")
    return jobs


def scheduled(cron_conn: psycopg.Connection, database: str) -> dict[str, tuple]:
    """This database's jobs in pg_cron that this role may see: job name (without @database) ->
    (jobid, schedule, command, active, username)."""
    suffix = "@" + database
    rows = cron_conn.execute("""SELECT jobid, jobname, schedule, command, active, username FROM cron.job
                                WHERE database = %s AND right(jobname, %s) = %s ORDER BY jobid""",
                             [database, len(suffix), suffix]).fetchall()
    return {r[1][: -len(suffix)]: (r[0], r[2], r[3], r[4], r[5]) for r in rows}


def job_role(conn: psycopg.Connection, table: str = DEFAULT_TABLE) -> str | None:
    """The role the jobs run as: the owner of the table that declares them."""
    if not table:
        return None
    return db.scalar(conn, "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(%s)", [table])


@contextmanager
def connection(url: str, conn: psycopg.Connection, cron_db: str | None = None,
               database: str | None = None) -> Iterator[psycopg.Connection | None]:
    """The cron database: `conn` itself when this is it, a new connection with the same credentials
    when it is another one, None when pg_cron is not loaded. `cron_db` and `database` (conn's), when
    the caller has them already, save asking again."""
    cron_db = cron_db or cron_database(conn)
    if not cron_db or cron_db == (database or db.scalar(conn, "SELECT current_database()")):
        yield conn if cron_db else None
        return
    with db.connection(url, dbname=cron_db) as other:
        yield other


def _ensure_extension(cron_conn: psycopg.Connection, cron_db: str) -> None:
    if db.scalar(cron_conn, "SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'"):
        return
    try:
        cron_conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
    except psycopg.Error as exc:
        raise DbtoolError(f"pg_cron is not installed in the cron database {cron_db!r}: {db.server_error(exc).message}",
                          hint=f"as a superuser, run CREATE EXTENSION pg_cron in database {cron_db}") from None


def sync(url: str, conn: psycopg.Connection, table: str = DEFAULT_TABLE) -> SyncResult:
    """Make pg_cron hold exactly the jobs the application database declares."""
    database = db.scalar(conn, "SELECT current_database()")
    want = {j.name: j for j in desired(conn, table)}
    cron_db = cron_database(conn)
    result = SyncResult(cron_database=cron_db, run_as=job_role(conn, table))
    if not cron_db:
        if want:
            raise DbtoolError(f"{len(want)} cron jobs are declared in {table}, but pg_cron is not loaded on this server",
                              hint="add pg_cron to shared_preload_libraries and restart (see `dbtool doctor`)")
        result.note = "pg_cron is not loaded; no jobs declared"
        return result
    with connection(url, conn, cron_db, database) as cron_conn:
        if not want and not db.scalar(cron_conn, "SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'"):
            return result
        _ensure_extension(cron_conn, cron_db)
        with cron_conn.transaction():
            superuser = _act_as(cron_conn, result.run_as, cron_db)
            have = scheduled(cron_conn, database)
            _reconcile(cron_conn, database, want, have, result, result.run_as if superuser else None)
    return result


def _act_as(cron_conn: psycopg.Connection, role: str | None, cron_db: str) -> bool:
    """Prepare to schedule as `role`: True when we are a superuser (pg_cron takes the user name),
    else SET LOCAL ROLE to it, which needs membership and pg_cron's grants."""
    me, superuser = cron_conn.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
                                      ).fetchone()
    if superuser or not role or role == me:
        return superuser
    if not db.scalar(cron_conn, "SELECT pg_has_role(current_user, %s, 'MEMBER')", [role]):
        raise DbtoolError(f"cron jobs run as {role}, the owner of the jobs table, and {me} is neither a superuser "
                          f"nor a member of {role}", hint=f"as a superuser: GRANT {role} TO {me}; or run dbtool as a superuser")
    cron_conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    if not db.scalar(cron_conn, "SELECT has_function_privilege('cron.schedule_in_database(text,text,text,text,text,boolean)', "
                                "'EXECUTE')"):
        raise DbtoolError(f"{role} may not schedule jobs in pg_cron (database {cron_db})",
                          hint=f"as a superuser in database {cron_db}: GRANT USAGE ON SCHEMA cron TO {role}; "
                               f"GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean) "
                               f"TO {role} (docs/cron.md)")
    return False


def _reconcile(cron_conn, database, want: dict[str, Job], have: dict[str, tuple], result: SyncResult,
               username: str | None) -> None:
    """Schedule, update and unschedule in the caller's transaction; `username` is passed to pg_cron
    (a superuser scheduling for the job role), None schedules as the current role."""
    run_as = username or db.scalar(cron_conn, "SELECT current_user")
    for name, job in want.items():
        full = cron_name(name, database)
        if len(full.encode()) > 63:
            raise DbtoolError(f"cron job name {full!r} is longer than 63 bytes",
                              hint="shorten the job name in the cron jobs table")
        current = have.get(name)
        if current and (current[1], current[2], current[3], current[4]) == (job.schedule, job.command, job.active,
                                                                            run_as):
            result.unchanged.append(name)
            continue
        (result.updated if current else result.scheduled).append(name)
        if current:
            cron_conn.execute("SELECT cron.unschedule(%s::bigint)", [current[0]])
        cron_conn.execute("SELECT cron.schedule_in_database(%s, %s, %s, %s, %s, %s)",
                          [full, job.schedule, job.command, database, username, job.active])
    for name, (jobid, *_rest) in have.items():
        if name not in want:
            result.unscheduled.append(name)
            cron_conn.execute("SELECT cron.unschedule(%s::bigint)", [jobid])


def forget_database(url: str, database: str) -> int:
    """Unschedule every job of a database that is being dropped; returns how many."""
    with db.connection(url) as conn, connection(url, conn) as cron_conn:
        if cron_conn is None or not db.scalar(cron_conn, "SELECT to_regclass('cron.job') IS NOT NULL"):
            return 0
        jobs = scheduled(cron_conn, database)
        for jobid, *_ in jobs.values():
            cron_conn.execute("SELECT cron.unschedule(%s::bigint)", [jobid])
        return len(jobs)
