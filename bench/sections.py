"""The measurements of docs/benchmarks.md, one function per section; each returns plain data for report.py."""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

from dbtool import catalog, cluster, config
from dbtool.commands import migrate as migrate_cmd
from dbtool.migrations import read as read_migrations

from . import drift as drift_bench
from .cluster import Server
from .queries import QUERIES
from .sessions import QuerySide, Session, sample_tenants
from .timing import interleave

ROOT = Path(__file__).resolve().parent.parent
DBTOOL = str(Path(sys.executable).parent / "dbtool")


# ----- 1. RLS cost and 2. tenant scaling ---------------------------------------------------------

def _rows(rows: list) -> list[str]:
    return sorted(map(repr, rows))


def rls_cost(url: str, runs: int, target_s: float) -> list[dict]:
    """Each query as maplatform_app under RLS (A) against the superuser with the filter by hand (B)."""
    tenants = sample_tenants(url)
    app, owner = Session(url, as_app=True), Session(url, as_app=False)
    try:
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
            out.append({"query": q, "pair": pair, "rows_app": len(mine), "rows_owner": len(theirs),
                        "same_rows": _rows(mine) == _rows(theirs), "variants": variants,
                        "plans": {"app": app.explain(q), "owner": owner.explain(q)}})
        return out
    finally:
        app.close()
        owner.close()


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


# ----- 3. tool overhead --------------------------------------------------------------------------

def psql_commands(url: str, project: config.Project) -> list[list[str]]:
    """psql runs applying what `dbtool migrate` applies: the migrations in order, then the repeatable
    files (functions, policies, views); runs of transactional files in one transaction (-1), each
    non-transactional migration on its own."""
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
    return [base + (["-1"] if tx else []) + [a for p in paths for a in ("-f", str(p))] for tx, paths in groups]


def _shown(cmd: list[str]) -> str:
    """A psql command line as the report shows it: psql by name, files relative to the project."""
    return " ".join(Path(a).relative_to(ROOT).as_posix() if a.startswith(str(ROOT)) else
                    ("psql" if a.endswith("/psql") else a) for a in cmd)


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


def tool_overhead(server: Server, runs: int) -> dict:
    project = config.load(ROOT)
    a, b = _Migrate(server, "bench_migrate_dbtool", "dbtool", project), _Migrate(server, "bench_migrate_psql", "psql", project)
    pair = interleave(a, b, runs, executions=1)
    same = _same_schema(server.url(a.name), server.url(b.name))
    c = _Migrate(server, "bench_migrate_inprocess", "in-process", project)
    in_process = interleave(c, b, runs, executions=1)
    for side in (a, b, c):
        server.drop_db(side.name)
    return {"pair": pair, "in_process": in_process, "same_schema": same, "psql": [_shown(c) for c in psql_commands("$URL", project)],
            "migrations": len(read_migrations(project.migrations_dir, project.root))}


def _same_schema(url_a: str, url_b: str) -> list[str]:
    """Differences between the two databases' catalogs, cron jobs aside (only dbtool schedules them)."""
    snaps = []
    for url in (url_a, url_b):
        with psycopg.connect(url, autocommit=True) as c:
            snap = catalog.snapshot(c)
            snap.pop("cron_job", None)
            snaps.append(snap)
    return [f"{ch.action} {ch.kind} {ch.name}" for ch in catalog.diff(snaps[0], snaps[1])]


# ----- 4. drift and snapshot ---------------------------------------------------------------------

def drift(server: Server, runs: int, tables: int) -> str:
    """bench/drift.py's own table (it builds its own scratch database on this server)."""
    return drift_bench.run(server.url(), argparse.Namespace(runs=runs, tables=tables))


# ----- 5. materialized view refresh --------------------------------------------------------------

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
    out = []
    with psycopg.connect(url, autocommit=True) as c:
        sizes = {v: c.execute(f"SELECT count(*) FROM {v}").fetchone()[0]
                 for v in ("public.pipeline_analytics", "public.daily_activity_summary")}
        source = {"public.pipeline_analytics": c.execute("SELECT count(*) FROM public.deals").fetchone()[0],
                  "public.daily_activity_summary":
                      c.execute("SELECT count(*) FROM public.activity_timeline").fetchone()[0]}
    for view in sizes:
        a, b = _Refresh(url, view, True), _Refresh(url, view, False)
        pair = interleave(a, b, runs, executions=1)
        a.conn.close()
        b.conn.close()
        out.append({"view": view, "pair": pair, "rows": sizes[view], "source_rows": source[view]})
    return out
