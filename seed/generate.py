"""`dbtool seed` for the M&A platform: realistic data, generated on the server by set-based SQL (seed/*.sql).

The project's own generator ([tool.dbtool] seed in pyproject.toml names this file): dbtool loads it and
runs `app` with the command line; it uses dbtool's db, errors and output modules as a library.
`python seed/generate.py --small` runs it on its own as well.

One INSERT ... SELECT over generate_series per table, with every constraint and trigger active,
then VACUUM (ANALYZE) so the planner has statistics and index-only scans work. jobs=1 is one
transaction; with more, each large step is shared between connections, each commits its share, and
a failure removes what was committed. Every value is a pure function of (seed, field, row number),
so the same --seed gives the same rows however many connections wrote them. The ratios below are
the documented shape of the data (docs/benchmarks.md, "The seed data").
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Optional

import typer

from dbtool import db, replica
from dbtool.errors import DatabaseFailure, DbtoolError, UsageError
from dbtool.output import emit_json, err, handled, out

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

# psycopg is imported where it is used: `dbtool seed --help` and a usage error should not pay for
# importing the database driver.
SQL_DIR = Path(__file__).resolve().parent
SMALL = (3, 40)  # `dbtool seed --small`: tenants, deals per tenant (make demo)
MAX_DEALS = 100_000_000  # row numbers are INTEGER: 10 timeline events per deal must stay below 2^31

# Rows per deal (or deals per row) of each table: the shape of the data. The pairs (team members,
# folders, tasks, permissions, comment threads) are fixed by their SQL; the others are parameters.
TEAM_MEMBERS_PER_DEAL = 2
FOLDERS_PER_DEAL = 2
DOCUMENTS_PER_DEAL = 1  # in the deal's subfolder
DEALS_PER_DATA_ROOM = 4
PERMISSIONS_PER_DATA_ROOM = 2
ACTIVITIES_PER_DEAL = 2
DEALS_PER_ARCHIVED_ACTIVITY = 10
TASKS_PER_DEAL = 2
DEALS_PER_VALUATION = 4
DEALS_PER_AI_ANALYSIS = 4
DEALS_PER_COMMENT_THREAD = 2
COMMENTS_PER_THREAD = 2  # a comment and its reply
NOTIFICATIONS_PER_DEAL = 1
EVENTS_PER_DEAL = 10  # activity_timeline, over the last 90 days
EMBEDDING_BASIS_VECTORS = 24 + 256 + 256  # 08_embedding_basis.sql
TIMELINE_CHUNK_PROBES = 91  # 20_timeline_chunks.sql: each midnight of the 90 days, and an hour before them

# The session settings of a bulk load. None of them weakens a constraint or a trigger.
SESSION = {
    "synchronous_commit": "off",  # this session's commits do not wait for the WAL flush
    "TimeZone": "UTC",  # dates and the JSON of stage_history do not depend on the client
    "work_mem": "256MB",  # hash joins of the same-tenant triggers, GIN pending-list merges
    "maintenance_work_mem": "1GB",  # the closing VACUUM
    "max_parallel_workers_per_gather": "0",  # INSERT ... SELECT does not run in parallel anyway
    "jit": "off",  # compiling the long generating expressions costs more than it saves (measured: 10 per cent)
    "statement_timeout": "0",
}
TABLES = ["tenants", "users", "user_sessions", "pipeline_stages", "deals", "deal_team_members",
          "document_folders", "documents", "data_rooms", "data_room_permissions", "activities",
          "activities_archive", "tasks", "valuations", "ai_analyses", "comments", "notifications", "presence",
          "activity_timeline"]
# Where each table's rows are written: activity_timeline's hypertable lives in a private schema since
# 0018 (public.activity_timeline is the application's tenant-filtered view of it).
SCHEMA_OF = {"activity_timeline": "timeline"}


@dataclass(frozen=True)
class Scale:
    tenants: int
    deals_per_tenant: int
    seed: str = "dbtool"
    as_of: date | None = None  # the data set's "today"; default: today (UTC)

    @property
    def deals(self) -> int:
        return self.tenants * self.deals_per_tenant

    @property
    def users_per_tenant(self) -> int:
        return 2 + math.ceil(self.deals_per_tenant / 20)  # at least 3: an owner and a team of two

    @property
    def embedded_per_tenant(self) -> int:
        """Documents with an embedding per tenant: 1 in 40, at least 10 (a top-10 search has answers)."""
        docs = DOCUMENTS_PER_DEAL * self.deals_per_tenant
        return min(docs, max(10, docs // 40))

    def every(self, step: int, first: int = 0) -> int:
        """Rows of a table with a row for every step-th deal of each tenant, from its deal `first`."""
        return self.tenants * len(range(first, self.deals_per_tenant, step))

    def moment(self) -> datetime:
        day = self.as_of or datetime.now(timezone.utc).date()
        return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Step:
    name: str  # the table, or the helper step
    file: str
    rows: int
    level: int  # a step only references rows of lower levels (and, in pairs, of its own slice)
    pairs: bool = False  # row 2k + 1 references row 2k of the same statement: never split a pair
    every_lane: bool = False  # a per-connection helper table: each lane builds it whole
    split: bool = True  # level 0 is one lane: its steps reference each other's uncommitted rows

    def slices(self, lanes: int) -> list[tuple[int, int]]:
        """(first, last) row numbers of each lane's share; small steps run in one piece."""
        if self.rows < 20_000 or lanes == 1 or self.every_lane or not self.split:
            return [(0, self.rows - 1)]
        unit = 2 if self.pairs else 1
        units = -(-self.rows // unit)
        bounds = [min(self.rows, round(units * i / lanes) * unit) for i in range(lanes + 1)]
        return [(a, b - 1) for a, b in zip(bounds, bounds[1:]) if b > a]


def steps(s: Scale) -> list[Step]:
    d, users = s.deals, s.tenants * s.users_per_tenant
    rooms = s.every(DEALS_PER_DATA_ROOM)
    return [
        Step("tenants", "01_tenants", s.tenants, 0, split=False),
        Step("users", "02_users", users, 0, split=False),
        Step("user_sessions", "03_user_sessions", users, 0, split=False),
        Step("pipeline_stages", "04_pipeline_stages", 8 * s.tenants, 0, split=False),
        Step("deals", "05_deals", d, 1),
        Step("deal_team_members", "06_deal_team_members", TEAM_MEMBERS_PER_DEAL * d, 2),
        Step("document_folders", "07_document_folders", FOLDERS_PER_DEAL * d, 2, pairs=True),
        Step("data_rooms", "10_data_rooms", rooms, 2),
        Step("activities_archive", "13_activities_archive", s.every(DEALS_PER_ARCHIVED_ACTIVITY), 2),
        Step("tasks", "14_tasks", TASKS_PER_DEAL * d, 2, pairs=True),
        Step("valuations", "15_valuations", s.every(DEALS_PER_VALUATION), 2),
        Step("comments", "17_comments", COMMENTS_PER_THREAD * s.every(DEALS_PER_COMMENT_THREAD), 2, pairs=True),
        Step("notifications", "18_notifications", NOTIFICATIONS_PER_DEAL * d, 2),
        Step("presence", "19_presence", users, 2),
        Step("timeline chunks", "20_timeline_chunks", TIMELINE_CHUNK_PROBES, 2, split=False),
        Step("activity_timeline", "21_activity_timeline", EVENTS_PER_DEAL * d, 2),
        Step("embedding basis", "08_embedding_basis", EMBEDDING_BASIS_VECTORS, 3, every_lane=True),
        Step("documents", "09_documents", DOCUMENTS_PER_DEAL * d, 3),
        Step("data_room_permissions", "11_data_room_permissions", PERMISSIONS_PER_DATA_ROOM * rooms, 3),
        Step("activities", "12_activities", ACTIVITIES_PER_DEAL * d, 4),
        Step("ai_analyses", "16_ai_analyses", s.every(DEALS_PER_AI_ANALYSIS, first=1), 4),
    ]


def expected_rows(s: Scale) -> dict[str, int]:
    """Rows per table after seeding an empty database at this scale."""
    return {st.name: st.rows for st in steps(s) if st.name in TABLES}


@dataclass
class TableResult:
    table: str
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "rows_per_second": round(self.rows_per_second)}


@dataclass
class SeedResult:
    database: str
    scale: dict
    tables: list[TableResult] = field(default_factory=list)
    load_seconds: float = 0.0
    vacuum_seconds: float = 0.0
    already_seeded: bool = False

    @property
    def rows(self) -> int:
        """Rows loaded into the tables (not the helper steps such as the embedding basis)."""
        return sum(t.rows for t in self.tables if t.table in TABLES)

    def as_dict(self) -> dict:
        return {"database": self.database, "scale": self.scale, "already_seeded": self.already_seeded,
                "tables": [t.as_dict() for t in self.tables], "load_seconds": round(self.load_seconds, 3),
                "vacuum_seconds": round(self.vacuum_seconds, 3), "rows": self.rows}


# on_step(event, step, info): "start" before a step, "done" after it (info: rows, seconds)
StepCallback = Callable[[str, Step, dict], None]


def validate(tenants: int, deals_per_tenant: int, seed: str, jobs: int = 1) -> None:
    if tenants < 1:
        raise UsageError(f"--tenants must be at least 1 (got {tenants})")
    if deals_per_tenant < 1:
        raise UsageError(f"--deals-per-tenant must be at least 1 (got {deals_per_tenant})")
    if tenants * deals_per_tenant > MAX_DEALS:
        raise UsageError(f"{tenants} tenants x {deals_per_tenant} deals is more than {MAX_DEALS:,} deals",
                         hint="seed fewer tenants or fewer deals per tenant")
    if not seed:
        raise UsageError("--seed must not be empty")
    if not 1 <= jobs <= 16:
        raise UsageError(f"--jobs must be between 1 and 16 (got {jobs})")


def seed(url: str, scale: Scale, on_step: StepCallback | None = None, vacuum: bool = True,
         jobs: int = 1) -> SeedResult:
    """Load the data set into an empty, migrated database; a no-op when this very seed is there already.

    jobs=1: one connection, one transaction. jobs>1: that many connections share each step (both
    cores of a 2-core machine), committing after each level of the dependency order, since one
    connection cannot see another's uncommitted rows; a failure deletes what was committed."""
    validate(scale.tenants, scale.deals_per_tenant, scale.seed, jobs)
    with db.connection(url, autocommit=False) as conn:
        result = SeedResult(database=conn.info.dbname, scale={**_scale_dict(scale), "jobs": jobs})
        replica.refuse_standby(conn, "seed writes every tenant's rows")  # before the first write fails with 25006
        _check_role(conn)
        _check_schema(conn)
        if _already_seeded(conn, scale):
            result.already_seeded = True
            return result
        if all(len(st.slices(jobs)) == 1 for st in steps(scale)):
            jobs = 1  # nothing to share: keep the single transaction
        lanes = [conn] + [db.connect(url, autocommit=False) for _ in range(jobs - 1)]
        try:
            started = time.perf_counter()
            result.tables = _load(lanes, scale, on_step or (lambda *_: None))
            result.load_seconds = time.perf_counter() - started
        finally:
            for extra in lanes[1:]:
                extra.close()
        if vacuum:
            conn.autocommit = True
            result.vacuum_seconds = _vacuum(conn, on_step or (lambda *_: None))
    return result


def _load(lanes: list[psycopg.Connection], scale: Scale, report: StepCallback) -> list[TableResult]:
    """Every step, level by level; all or nothing.

    With several lanes, each lane commits its share of a step as soon as it is done: the next level
    must see the rows, and a TimescaleDB chunk one lane created blocks the other lane's inserts into
    it until that transaction ends (waiting for the whole step would deadlock)."""
    import psycopg

    done: list[TableResult] = []
    committed = False
    current = "the session"
    try:
        for lane in lanes:
            _configure(lane)
            lane.execute(_functions(scale))
        plan = sorted(steps(scale), key=lambda st: st.level)
        for st in plan:
            current = st.name
            committed = len(lanes) > 1  # from the first step on, lanes commit as they finish
            done.append(_run(lanes, st, _params(scale, st), report))
        lanes[0].commit()
    except BaseException as exc:
        for lane in lanes:
            _abandon(lane)
        if committed:
            _undo(lanes[0], scale)  # what earlier levels committed
        if isinstance(exc, psycopg.Error):
            raise db.server_error(exc, f"seeding {current} failed, nothing was written") from None
        raise
    return done


def _run(lanes: list[psycopg.Connection], st: Step, params: dict, report: StepCallback) -> TableResult:
    """One step: each lane runs its slice of the rows, concurrently; returns rows and wall time."""
    text = (SQL_DIR / f"{st.file}.sql").read_text()
    if st.every_lane:
        work = [(lane, params) for lane in lanes]
    else:
        work = [(lane, {**params, "first": a, "last": b}) for lane, (a, b) in zip(lanes, st.slices(len(lanes)))]
    report("start", st, {"rows": st.rows})
    started = time.perf_counter()
    commit = len(lanes) > 1
    if len(work) == 1:
        counts = [_execute(*work[0], text, commit)]
    else:
        pool = ThreadPoolExecutor(max_workers=len(work))
        try:
            counts = _gather([pool.submit(_execute, lane, p, text, commit) for lane, p in work])
        except BaseException:  # Ctrl-C or a failure: stop the other lanes before waiting for them
            for lane, _ in work:
                lane.cancel_safe()
            raise
        finally:
            pool.shutdown(wait=True)
    seconds = time.perf_counter() - started
    rows = st.rows if st.every_lane else sum(counts)
    if rows != st.rows:  # the SQL and the ratios above disagree: a bug, say so
        raise DatabaseFailure(f"seeding {st.name} wrote {rows} rows instead of {st.rows}")
    report("done", st, {"rows": rows, "seconds": seconds})
    return TableResult(st.name, rows, seconds)


def _execute(lane: psycopg.Connection, params: dict, text: str, commit: bool) -> int:
    # A file without parameters may hold several statements (simple query protocol).
    count = lane.execute(text, params if "%(" in text else None).rowcount
    if commit:
        lane.commit()
    return count


def _gather(futures: list) -> list[int]:
    """The lanes' row counts; the first failure is raised as soon as it happens (the caller cancels
    the other lanes), so it is the failure itself and not a cancellation it caused."""
    for fut in as_completed(futures):
        if fut.exception() is not None:
            raise fut.exception()
    return [fut.result() for fut in futures]


def _abandon(lane: psycopg.Connection) -> None:
    import psycopg

    try:
        lane.cancel_safe()
        lane.rollback()
    except psycopg.Error:
        pass  # a broken connection has nothing left to roll back


def _undo(conn: psycopg.Connection, scale: Scale) -> None:
    """Remove the rows earlier levels committed: the database held no tenant before the seed, so unless
    someone added one meanwhile, every tenant table holds only ours; else delete our tenants (cascade)."""
    import psycopg

    try:
        _remove_ours(conn, scale)
    except psycopg.Error as exc:
        raise DbtoolError(f"the seed failed, and removing the rows it had committed failed too: "
                          f"{db.server_error(exc).message}",
                          hint="remove them by hand: TRUNCATE public.tenants CASCADE (if no other tenant exists)") from None


def _remove_ours(conn: psycopg.Connection, scale: Scale) -> None:
    with conn.transaction():
        conn.execute("LOCK TABLE public.tenants IN ACCESS EXCLUSIVE MODE")
        others = conn.execute("SELECT count(*) FROM public.tenants WHERE NOT (" + _OURS + ")",
                              {"seed": scale.seed}).fetchone()[0]
        if others == 0 and _may_truncate_everything(conn):
            conn.execute("TRUNCATE public.tenants CASCADE")
        else:
            conn.execute("DELETE FROM public.tenants WHERE " + _OURS, {"seed": scale.seed})


def _may_truncate_everything(conn: psycopg.Connection) -> bool:
    """TRUNCATE ... CASCADE needs TRUNCATE on every table it reaches; the owner role has none on the
    audited tables (migration 0026), so a DBA who is not a superuser deletes instead."""
    return bool(conn.execute("""SELECT bool_and(has_table_privilege(c.oid, 'TRUNCATE')) FROM pg_class AS c
                                WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')"""
                             ).fetchone()[0])


def _vacuum(conn: psycopg.Connection, report: StepCallback) -> float:
    from psycopg import sql

    st = Step("vacuum analyze", "", len(TABLES), 5)
    report("start", st, {"rows": st.rows})
    started = time.perf_counter()
    tables = sql.SQL(", ").join(sql.Identifier(SCHEMA_OF.get(t, "public"), t) for t in TABLES)
    conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(tables))
    seconds = time.perf_counter() - started
    report("done", st, {"rows": st.rows, "seconds": seconds})
    return seconds


def _functions(scale: Scale) -> sql.Composed:
    from psycopg import sql

    text = (SQL_DIR / "00_functions.sql").read_text()
    return sql.SQL(text).format(seed=sql.Literal(scale.seed), tenants=sql.Literal(scale.tenants),
                                users_per_tenant=sql.Literal(scale.users_per_tenant),
                                as_of=sql.Literal(scale.moment().isoformat()))


def _params(scale: Scale, st: Step) -> dict:
    return {"seed": scale.seed, "tenants": scale.tenants, "deals_per_tenant": scale.deals_per_tenant,
            "users_per_tenant": scale.users_per_tenant, "embedded_per_tenant": scale.embedded_per_tenant,
            "deals": scale.deals, "rows": st.rows, "activities_per_deal": ACTIVITIES_PER_DEAL,
            "deals_per_data_room": DEALS_PER_DATA_ROOM, "deals_per_archived_activity": DEALS_PER_ARCHIVED_ACTIVITY,
            "deals_per_valuation": DEALS_PER_VALUATION, "deals_per_ai_analysis": DEALS_PER_AI_ANALYSIS,
            "deals_per_comment_thread": DEALS_PER_COMMENT_THREAD}


def _scale_dict(scale: Scale) -> dict:
    return {"tenants": scale.tenants, "deals_per_tenant": scale.deals_per_tenant, "seed": scale.seed,
            "as_of": scale.moment().date().isoformat(), "users_per_tenant": scale.users_per_tenant,
            "embedded_documents_per_tenant": scale.embedded_per_tenant}


def _configure(conn: psycopg.Connection) -> None:
    for name, value in SESSION.items():
        conn.execute("SELECT set_config(%s, %s, false)", [name, value])


def _check_role(conn: psycopg.Connection) -> None:
    """Seeding writes every tenant's rows: the role must bypass row-level security legitimately."""
    user, superuser, bypass = conn.execute(
        "SELECT rolname, rolsuper, rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user").fetchone()
    if not (superuser or bypass):
        raise DbtoolError(f"role {user} cannot seed: it is subject to row-level security, so it cannot write "
                          "the rows of many tenants",
                          hint=f"connect as a superuser, or as a DBA: ALTER ROLE {user} BYPASSRLS; "
                               f"GRANT maplatform_owner TO {user} (see docs/benchmarks.md)")


def _check_schema(conn: psycopg.Connection) -> None:
    from dbtool import citus  # psycopg's sql module: not at the start, which `--help` pays for

    citus.refuse_worker(conn, "dbtool seed loads data through the coordinator only")
    missing = [t for t in TABLES
               if conn.execute("SELECT to_regclass(%s)", [f"{SCHEMA_OF.get(t, 'public')}.{t}"]).fetchone()[0] is None]
    conn.rollback()
    if missing:
        raise UsageError(f"the database has no table {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}: "
                         "it is not migrated", hint="run `dbtool migrate` first, then seed")


# The seed's own tenants: their ids start with the seed's tenant prefix (pg_temp.sid).
_OURS = "replace(id::TEXT, '-', '') LIKE left(md5(%(seed)s || ':tenant'), 20) || '%%'"


def _already_seeded(conn: psycopg.Connection, scale: Scale) -> bool:
    """True when the database holds exactly this seed's tenants and deals; an error for any other data."""
    tenants, ours, deals = conn.execute(
        "SELECT (SELECT count(*) FROM public.tenants), (SELECT count(*) FROM public.tenants WHERE " + _OURS + "), "
        "(SELECT count(*) FROM public.deals)", {"seed": scale.seed}).fetchone()
    conn.rollback()
    if tenants == 0:
        return False
    if tenants == ours == scale.tenants and deals == scale.deals:
        return True
    raise UsageError(f"the database already holds {tenants} tenant(s) and {deals} deal(s); "
                     "seed loads into an empty schema",
                     hint="seed a fresh database (`dbtool dev reset` then `dbtool migrate` for the dev cluster)")


# ----- the command line: `dbtool seed [OPTIONS]` ------------------------------------------------

# As dbtool's own commands print them: no rich markup, no completion options, plain tracebacks.
app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)

Url = Annotated[Optional[str], typer.Option("--database-url", "-d", metavar="URL",
                                            help="Database URL (default: DATABASE_URL, then PG* variables).",
                                            show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors, warnings and the final summary line "
                                                           "(no progress, no per-item lines).")]


@app.command("seed")
def command(tenants: Annotated[Optional[int], typer.Option("--tenants", metavar="N", help="Tenants (default 10).",
                                                           show_default=False)] = None,
            deals_per_tenant: Annotated[Optional[int], typer.Option(
                "--deals-per-tenant", metavar="N", help="Deals per tenant (default 100); every other table is "
                "scaled from it (docs/benchmarks.md).", show_default=False)] = None,
            small: Annotated[bool, typer.Option("--small", help=f"The demo set: {SMALL[0]} tenants x "
                                                f"{SMALL[1]} deals.")] = False,
            seed_: Annotated[str, typer.Option("--seed", metavar="TEXT", help="Same seed, same data.")] = "dbtool",
            as_of: Annotated[Optional[datetime], typer.Option(
                "--as-of", metavar="YYYY-MM-DD", formats=["%Y-%m-%d"],
                help="The data set's today: dates are relative to it (default: today, UTC).")] = None,
            jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N", help="Connections sharing each table's "
                                              "rows (1: a single transaction; more: faster, committed level by "
                                              "level and removed again on failure).")] = 2,
            no_vacuum: Annotated[bool, typer.Option("--no-vacuum", help="Skip the closing VACUUM (ANALYZE).")] = False,
            quiet: Quiet = False,
            database_url: Url = None, json: Json = False):
    """Load realistic M&A data into an empty, migrated database: tenants, users, deals over the
    pipeline, documents with summaries and embeddings, data rooms, activity over 90 days.

    Generated on the server (one INSERT ... SELECT per table; one transaction with --jobs 1, else
    committed level by level and removed again on failure), as a role that
    bypasses row-level security (a superuser, or BYPASSRLS and a member of maplatform_owner).
    Running it again with the same options on the seeded database does nothing."""
    with handled(json):
        if small and (tenants is not None or deals_per_tenant is not None):
            raise UsageError("pass either --small or --tenants/--deals-per-tenant, not both")
        default_t, default_d = SMALL if small else (10, 100)
        scale = Scale(tenants=default_t if tenants is None else tenants,
                      deals_per_tenant=default_d if deals_per_tenant is None else deals_per_tenant,
                      seed=seed_, as_of=as_of.date() if as_of else None)
        validate(scale.tenants, scale.deals_per_tenant, scale.seed, jobs)
        url = db.resolve_url(database_url)
        report, display = _progress(quiet or json)
        with display:
            res = seed(url, scale, on_step=report, vacuum=not no_vacuum, jobs=jobs)
        if json:
            emit_json(res.as_dict())
        elif res.already_seeded:
            out.print(f"{res.database}: already holds this seed's data ({scale.tenants} tenants x "
                      f"{scale.deals_per_tenant} deals, seed {scale.seed!r}); nothing to do", markup=False)
        else:
            rows = res.rows
            out.print(f"{res.database}: seeded {rows:,} rows ({scale.tenants} tenants x {scale.deals_per_tenant} "
                      f"deals) in {res.load_seconds:.1f} s, {rows / max(res.load_seconds, 1e-9):,.0f} rows/s"
                      + (f"; vacuum analyze {res.vacuum_seconds:.1f} s" if res.vacuum_seconds else ""), markup=False)


def _progress(quiet: bool):
    """(callback, context): a rich progress bar per table on a terminal, one line per table otherwise."""
    from contextlib import nullcontext

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    if quiet:
        return None, nullcontext()

    def rate(info: dict) -> str:
        return f"{info['rows'] / info['seconds'] if info['seconds'] > 0 else 0:>12,.0f} rows/s"

    if not err.is_terminal:
        def line(event: str, step, info: dict) -> None:
            if event == "done":
                err.print(f"{step.name:<22} {info['rows']:>12,} rows {info['seconds']:>9.2f} s {rate(info)}",
                          markup=False)
        return line, nullcontext()
    bars = Progress(TextColumn("{task.description:<22}"), BarColumn(), TextColumn("{task.fields[rows]:>12}"),
                    TimeElapsedColumn(), TextColumn("{task.fields[rate]}"), console=err)
    tasks: dict = {}

    def bar(event: str, step, info: dict) -> None:
        if event == "start":  # one statement per table: the bar pulses until it returns
            tasks[step.name] = bars.add_task(step.name, total=None, rows=f"{info['rows']:,} rows", rate="")
        else:
            done = max(info["rows"], 1)
            bars.update(tasks[step.name], total=done, completed=done, rate=rate(info))
            bars.stop_task(tasks[step.name])
    return bar, bars


if __name__ == "__main__":
    app(prog_name="dbtool seed")
