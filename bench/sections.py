"""The measurements of docs/benchmarks.md, one function per section; each returns plain data for report.py."""

from __future__ import annotations

import argparse
import compileall
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from dbtool import catalog, cluster, config, tenant_token
from dbtool.commands import migrate as migrate_cmd
from dbtool.migrations import read as read_migrations

from .cluster import Server
from .queries import QUERIES, Query
from .sessions import APP, KEY_ID, SECRET, TOKEN_LOOKUP, QuerySide, Session, Tenant, add_key, sample_tenants
from .timing import interleave

ROOT = Path(__file__).resolve().parent.parent
DBTOOL = str(Path(sys.executable).parent / "dbtool")


# ----- 1. RLS cost and 3. tenant scaling ---------------------------------------------------------

def _rows(rows: list) -> list[str]:
    return sorted(map(repr, rows))


LOOKUP = ("the superuser, the tenant found as the policies find it (`tenant_id = (SELECT "
          "app.verified_tenant())`) instead of given, no RLS")


def rls_cost(url: str, runs: int, target_s: float) -> list[dict]:
    """Each query as maplatform_app under RLS (A) against the superuser with the filter by hand (B)."""
    tenants = sample_tenants(url)
    app, owner = Session(url, as_app=True), Session(url, as_app=False)
    try:
        for t in tenants:  # every token registered before the clock starts
            app.use(t)
        out = []
        for q in QUERIES:
            pair = interleave(QuerySide(app, q, tenants), QuerySide(owner, q, tenants), runs, target_s)
            app.use(tenants[0])
            owner.use(tenants[0])
            mine, theirs = app.run(q), owner.run(q)
            variants = []
            for i, (title, _) in enumerate(q.variants):
                vpair = interleave(QuerySide(app, q, tenants, variant=i), QuerySide(owner, q, tenants), runs, target_s)
                app.use(tenants[0])
                variants.append({"title": title, "pair": vpair, "rows": len(app.run(q, variant=i)),
                                 "plan": app.explain(q, variant=i)})
            # The superuser's query with the tenant looked up as the policies do, instead of given: what
            # finding the tenant by its token costs on its own (planning and running the sub-select),
            # without row-level security.
            lpair = interleave(QuerySide(owner, q, tenants, lookup=True), QuerySide(owner, q, tenants), runs, target_s)
            owner.use(tenants[0])
            variants.append({"title": LOOKUP, "pair": lpair, "rows": len(owner.run(q, lookup=True)), "plan": [],
                             "lookup": True})
            out.append({"query": q, "pair": pair, "rows_app": len(mine), "rows_owner": len(theirs),
                        "same_rows": _rows(mine) == _rows(theirs), "variants": variants,
                        "plans": {"app": app.explain(q), "owner": owner.explain(q)},
                        "server": server_times(app, owner, q, tenants, 10 * runs)})
        return out
    finally:
        app.close()
        owner.close()


SUMMARY_TIMES = re.compile(r"(Planning|Execution) Time: ([0-9.]+) ms")


def server_times(app: Session, owner: Session, q: Query, tenants: list[Tenant], n: int) -> dict:
    """Where a difference goes, by the server's own account: median planning and execution time
    (EXPLAIN (ANALYZE, TIMING OFF, SUMMARY)) of the application's query, the hand-written one, and the
    hand-written one with the policies' token lookup, n of each, in turn. For a function call the
    planning is the call's only; the body's planning and running are in its execution."""
    got: dict[str, dict[str, list[float]]] = {k: {"Planning": [], "Execution": []} for k in ("app", "owner", "lookup")}
    sides = (("app", app, False), ("owner", owner, False), ("lookup", owner, True))
    for i in range(n):
        for key, session, lookup in (sides if i % 2 == 0 else sides[::-1]):
            session.use(tenants[i % len(tenants)])
            text = session.text(q)
            if lookup:
                text = text.replace("%(tenant)s", TOKEN_LOOKUP)
            params = {"tenant": session.tenant.id, "vector": session.tenant.vector}
            lines = session.conn.execute("EXPLAIN (ANALYZE, TIMING OFF, SUMMARY) " + text, params,
                                         prepare=False).fetchall()
            for kind, ms in SUMMARY_TIMES.findall("\n".join(r[0] for r in lines)):
                got[key][kind].append(float(ms))
    return {**{k: {"planning_ms": statistics.median(v["Planning"]), "execution_ms": statistics.median(v["Execution"])}
               for k, v in got.items()}, "n": n}


# ----- 2. the tenant context, once per transaction --------------------------------------------------

SETTERS = {
    # what the application runs: verifies nothing for a registered token, looks its hash up (SECURITY
    # DEFINER PL/pgSQL through a SQL wrapper) and sets app.tenant_token for the transaction
    "verified": "SELECT public.set_tenant_context(%(token)s)",
    # the floor: the same value put in the same setting, checked by nobody (what the policies read)
    "set_config": "SELECT pg_catalog.set_config('app.tenant_token', %(token)s, true)",
}


@dataclass
class _Context:
    """A timing.Side: as maplatform_app, set the tenant context `how`, alone (autocommit: each call is
    its own transaction) or in a transaction with a query (BEGIN, set, query, COMMIT). fresh: every
    transaction uses a token never seen before (minted in prepare(), outside the clock), which the
    call verifies and registers."""
    conn: psycopg.Connection
    how: str
    tenants: list[Tenant]
    query: Query | None = None
    fresh: bool = False
    pool: list = field(default_factory=list)
    _minted: itertools.count = field(default_factory=lambda: itertools.count(1))

    def prepare(self, rep: int) -> None:
        self.tenant = self.tenants[rep % len(self.tenants)]
        self.token = self.tenant.token
        if self.fresh:  # enough unseen tokens for any batch (calibrate() caps batches at 5,000)
            now = time.time()
            while len(self.pool) < 5000:  # distinct expiries make distinct tokens
                self.pool.append(tenant_token.mint(SECRET, KEY_ID, self.tenant.id, 900, now=now + next(self._minted)))

    def batch(self, n: int) -> None:
        setter = SETTERS[self.how]
        params = {"tenant": self.tenant.id, "vector": self.tenant.vector}
        for _ in range(n):
            params["token"] = self.pool.pop() if self.fresh else self.token
            if self.query is None:
                self.conn.execute(setter, params).fetchall()
                continue
            self.conn.execute("BEGIN")
            self.conn.execute(setter, params).fetchall()
            self.conn.execute(self.query.app, params).fetchall()
            self.conn.execute("COMMIT")


def _app_connection(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True, prepare_threshold=None)
    add_key(conn)
    conn.execute(f"SET ROLE {APP}")
    return conn


def tenant_context(url: str, runs: int, target_s: float) -> list[dict]:
    """set_tenant_context(token) (A) against set_config of the same token (B), as maplatform_app:
    the call alone, a whole short transaction, and (for comparison) a token's first use."""
    tenants = sample_tenants(url)
    dashboard = next(q for q in QUERIES if q.key == "dashboard")
    a_conn, b_conn = _app_connection(url), _app_connection(url)
    try:
        with psycopg.connect(url, autocommit=True) as c:  # every token registered once, as in a warm application
            add_key(c)
            for t in tenants:
                c.execute("SELECT app.use_tenant_token(%s, true)", [t.token])
        out = []
        for key, title, query, fresh in (
                ("call", "the call alone (autocommit: one statement, its own transaction)", None, False),
                ("transaction", f"a transaction: BEGIN, the call, the {dashboard.key} query of section 1, COMMIT",
                 dashboard, False),
                ("first_use", "↳ a token's first use (verified: signature, key, expiry; registered: an INSERT "
                 "and its commit), the call alone", None, True)):
            a = _Context(a_conn, "verified", tenants, query, fresh)
            b = _Context(b_conn, "set_config", tenants, query)
            pair = interleave(a, b, runs, target_s)
            out.append({"key": key, "title": title, "pair": pair})
        # each side's context reaches the same tenant's rows (a registered token, either way)
        seen = []
        for conn, how in ((a_conn, "verified"), (b_conn, "set_config")):
            with conn.transaction():
                conn.execute(SETTERS[how], {"token": tenants[0].token})
                seen.append(conn.execute("SELECT DISTINCT tenant_id::TEXT FROM public.deals").fetchall())
        out[0]["same_tenant"] = seen[0] == seen[1] == [(tenants[0].id,)]
        return out
    finally:
        a_conn.close()
        b_conn.close()


def tenant_scaling(url_many: str, url_few: str, runs: int, target_s: float) -> list[dict]:
    """The same per-tenant queries, as the application, on 1,000 tenants (A) and on 100 (B)."""
    many_t, few_t = sample_tenants(url_many), sample_tenants(url_few)
    many, few = Session(url_many, as_app=True), Session(url_few, as_app=True)
    try:
        out = []
        for q in QUERIES:
            pair = interleave(QuerySide(many, q, many_t), QuerySide(few, q, few_t), runs, target_s)
            out.append({"query": q, "pair": pair, "plan_many": many.explain(q)})
        return out
    finally:
        many.close()
        few.close()


# ----- 4. tool overhead --------------------------------------------------------------------------

def psql_commands(url: str, project: config.Project) -> list[list[str]]:
    """psql runs applying what `dbtool migrate` applies: the migrations in order, then the repeatable
    files (functions, policies, views); runs of transactional files in one transaction (-1), each
    non-transactional migration on its own. Inside a run, each file after the first starts with the
    role and settings of the session (RESET ALL, RESET ROLE), as each of dbtool's transactions does: a
    file's SET LOCAL ROLE would otherwise hold for the next files (0022 refused to run as the owner role)."""
    psql = str(cluster.find_bindir() / "psql")
    files = [(m.path, m.transactional) for m in read_migrations(project.migrations_dir, project.root)]
    for kind in ("functions", "policies", "views"):
        files += [(p, True) for p in sorted((project.sql_dir / kind).glob("*.sql"))]
    groups: list[tuple[bool, list[Path]]] = []
    for path, transactional in files:
        if groups and transactional and groups[-1][0]:
            groups[-1][1].append(path)
        else:
            groups.append((transactional, [path]))
    base = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]
    return [base + (["-1"] if tx else []) + [a for i, p in enumerate(paths)
                                             for a in ((["-c", "RESET ALL; RESET ROLE"] if i else []) + ["-f", str(p)])]
            for tx, paths in groups]


def _shown(cmd: list[str]) -> str:
    """A psql command line as the report shows it: psql by name, files relative to the project."""
    return " ".join(Path(a).relative_to(ROOT).as_posix() if a.startswith(str(ROOT)) else
                    ("psql" if a.endswith("/psql") else f"'{a}'" if " " in a else a) for a in cmd)


@dataclass
class _Migrate:
    server: Server
    name: str
    tool: str  # dbtool | psql
    project: config.Project

    def prepare(self, rep: int) -> None:
        self.server.drop_db(self.name)
        self.server.create_db(self.name)

    def batch(self, n: int) -> None:
        url = self.server.url(self.name)
        if self.tool == "in-process":  # dbtool's engine without the start-up of a Python process
            for _ in range(n):
                migrate_cmd.migrate(url, self.project)
            return
        cmds = ([[DBTOOL, "migrate", "--quiet", "--database-url", url, "--project", str(self.project.root)]]
                if self.tool == "dbtool" else psql_commands(url, self.project))
        for _ in range(n):
            for cmd in cmds:
                subprocess.run(cmd, check=True, capture_output=True, text=True)


def tool_overhead(server: Server, runs: int, startup_runs: int = 0, target_s: float = 0.3) -> dict:
    """`dbtool migrate` against psql from an empty database to head, and, with startup_runs, the start-up
    of dbtool's commands against the bare interpreter and a bare psycopg connection (startup())."""
    # dbtool as installed: its modules compiled, as pip does for an installed package (a source
    # checkout writes them on its first run, unless PYTHONDONTWRITEBYTECODE says otherwise)
    compileall.compile_dir(str(ROOT / "dbtool"), quiet=1)
    project = config.load(ROOT)
    out = {"startup": startup(server, project, startup_runs, target_s)} if startup_runs else {}
    a, b = _Migrate(server, "bench_migrate_dbtool", "dbtool", project), _Migrate(server, "bench_migrate_psql", "psql", project)
    pair = interleave(a, b, runs, executions=1)
    same = _same_schema(server.url(a.name), server.url(b.name))
    c = _Migrate(server, "bench_migrate_inprocess", "in-process", project)
    in_process = interleave(c, b, runs, executions=1)
    for side in (a, b, c):
        server.drop_db(side.name)
    return {**out, "pair": pair, "in_process": in_process, "same_schema": same, "psql": [_shown(c) for c in psql_commands("$URL", project)],
            "migrations": len(read_migrations(project.migrations_dir, project.root))}


PYTHON = sys.executable  # the interpreter of the console script's first line
HELP_GOAL, STATUS_GOAL = 3.0, 1.3


@dataclass
class _Process:
    """A timing.Side: a command run as a new process, its output discarded. cold: under this folder, a
    new, empty XDG_CACHE_HOME for every execution (dbtool/launch.py finds no output to replay)."""
    cmd: list[str]
    env: dict
    expect: int = 0
    cold: Path | None = None
    _n: itertools.count = field(default_factory=itertools.count)

    def prepare(self, rep: int) -> None:
        pass

    def batch(self, n: int) -> None:
        for _ in range(n):
            env = self.env if self.cold is None else {**self.env, "XDG_CACHE_HOME": str(self.cold / str(next(self._n)))}
            code = subprocess.run(self.cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL).returncode
            if code != self.expect:
                raise RuntimeError(f"{' '.join(self.cmd)} exited {code}, not {self.expect}")


STATUS_LIBRARIES = "import psycopg, typer, rich.console, pglast, yoyo"


def startup(server: Server, project: config.Project, runs: int, target_s: float) -> list[dict]:
    """Each row: a dbtool command (A) against the least any Python tool pays for the same (B), as new
    processes, interleaved. `--help` and a usage error against `python -c pass`; `status` against
    `python -c` importing psycopg, connecting and closing. dbtool keeps what Typer printed for --help and
    for a usage error it found before any command ran, and prints it again (dbtool/launch.py): the rows
    measure that, and ↳ the first run (an empty cache), which renders it with Typer. Every process gets
    the same environment, without DATABASE_URL and PG* variables, and this run's own cache folder."""
    url = server.create_db("bench_status")
    migrate_cmd.migrate(url, project, sync_cron=False)
    home = Path(tempfile.mkdtemp(prefix="dbtool-bench-startup-"))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("PG")}
    env["XDG_CACHE_HOME"] = str(home / "cache")
    proj = ["--project", str(project.root)]
    bare = _Process([PYTHON, "-c", "pass"], env)
    floor = _Process([PYTHON, "-c", f"import psycopg; psycopg.connect({url!r}).close()"], env)
    libraries = _Process([PYTHON, "-c", f"{STATUS_LIBRARIES}; psycopg.connect({url!r}).close()"], env)
    # key, title, A, B, goal; the summary names a row with a goal by its title up to " ("
    rows = [
        ("help", "`dbtool --help`", _Process([DBTOOL, "--help"], env), bare, HELP_GOAL),
        ("help_cold", "↳ `dbtool --help`, first run (empty cache: rendered by Typer)",
         _Process([DBTOOL, "--help"], env, cold=home / "cold-help"), bare, None),
        ("usage", "a usage error found by Typer (`dbtool migrate --no-such-option`)",
         _Process([DBTOOL, "migrate", "--no-such-option"], env, expect=2), bare, HELP_GOAL),
        ("usage_cold", "↳ the same, first run (empty cache: found by Typer)",
         _Process([DBTOOL, "migrate", "--no-such-option"], env, expect=2, cold=home / "cold-usage"), bare, None),
        ("usage_dbtool", "a usage error found by dbtool (`dbtool status` without a database: no database given)",
         _Process([DBTOOL, "status", *proj], env, expect=2), bare, HELP_GOAL),
        ("typer", "↳ `python -c 'import typer'`: importing Typer alone", _Process([PYTHON, "-c", "import typer"], env),
         bare, None),
        ("status", "`dbtool status --database-url URL`", _Process([DBTOOL, "status", "--database-url", url, *proj], env),
         floor, STATUS_GOAL),
        ("status_libraries", f"↳ `python -c '{STATUS_LIBRARIES}'`, connecting and closing: the libraries status uses",
         libraries, floor, None),
    ]
    try:
        return [{"key": key, "title": title, "pair": interleave(a, b, runs, target_s), "goal": goal,
                 "against": "python -c pass" if b is bare else "python -c 'import psycopg; connect; close'"}
                for key, title, a, b, goal in rows]
    finally:
        shutil.rmtree(home, ignore_errors=True)
        server.drop_db("bench_status")


def _same_schema(url_a: str, url_b: str) -> list[str]:
    """Differences between the two databases' catalogs, cron jobs aside (only dbtool schedules them)."""
    snaps = []
    for url in (url_a, url_b):
        with psycopg.connect(url, autocommit=True) as c:
            snap = catalog.snapshot(c)
            snap.pop("cron_job", None)
            snaps.append(snap)
    return [f"{ch.action} {ch.kind} {ch.name}" for ch in catalog.diff(snaps[0], snaps[1])]


# ----- 5. drift and snapshot ---------------------------------------------------------------------

def drift(server: Server, runs: int, tables: int) -> str:
    """bench/drift.py's own table (it builds its own scratch database on this server)."""
    from . import drift as drift_bench  # here: rendering a report needs none of dbtool's drift machinery

    return drift_bench.run(server.url(), argparse.Namespace(runs=runs, tables=tables))


# ----- 6. materialized view refresh --------------------------------------------------------------

@dataclass
class _Refresh:
    url: str
    view: str
    concurrently: bool

    def __post_init__(self):
        self.conn = psycopg.connect(self.url, autocommit=True)

    def prepare(self, rep: int) -> None:
        self.conn.execute(f"VACUUM {self.view}")  # steady state: a cron refresh finds a vacuumed view

    def batch(self, n: int) -> None:
        for _ in range(n):
            self.conn.execute(f"REFRESH MATERIALIZED VIEW {'CONCURRENTLY ' if self.concurrently else ''}{self.view}")


def refresh(url: str, runs: int) -> list[dict]:
    """The materialized views the pg_cron jobs refresh: pipeline_analytics, and daily_activity_summary
    where it is one (the Apache edition; on the community edition it is a continuous aggregate, whose
    refresh section 7 times)."""
    out = []
    with psycopg.connect(url, autocommit=True) as c:
        views = {"public.pipeline_analytics": "public.deals"}
        if c.execute("SELECT EXISTS (SELECT FROM pg_matviews WHERE schemaname = 'timeline' "
                     "AND matviewname = 'daily_activity_summary')").fetchone()[0]:
            views["timeline.daily_activity_summary"] = "timeline.activity_timeline"
        sizes = {v: c.execute(f"SELECT count(*) FROM {v}").fetchone()[0] for v in views}
        source = {v: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for v, t in views.items()}
    for view in sizes:
        a, b = _Refresh(url, view, True), _Refresh(url, view, False)
        pair = interleave(a, b, runs, executions=1)
        a.conn.close()
        b.conn.close()
        out.append({"view": view, "pair": pair, "rows": sizes[view], "source_rows": source[view]})
    return out
