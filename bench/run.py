"""`python -m bench [--full]`: start a throwaway cluster, migrate and seed two databases (100 and 1,000
tenants of the same size), measure, and write docs/benchmarks.md.

    make bench        # small scale: 100 and 1,000 tenants x 20 deals; a few minutes
    make bench-full   # 100 and 1,000 tenants x 1,000 deals: 1,000,000 deals, 10,000,000 timeline events
"""

from __future__ import annotations

import argparse
import datetime
import os
import pickle
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from dbtool import config
from dbtool.commands import migrate as migrate_cmd
from dbtool.commands import seed as seed_cmd

from . import cluster, report, sections

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Scale:
    name: str
    tenants: tuple[int, int]  # the scaling comparison: few, many (the other sections use `many`)
    deals_per_tenant: int
    runs: int  # repetitions of each side, interleaved
    target_s: float  # length of one timed batch of a query
    migrate_runs: int
    drift_runs: int
    refresh_runs: int


SMALL = Scale("small", (100, 1000), 20, runs=9, target_s=0.05, migrate_runs=7, drift_runs=3, refresh_runs=7)
FULL = Scale("full", (100, 1000), 1000, runs=15, target_s=0.2, migrate_runs=7, drift_runs=5, refresh_runs=5)


def log(msg: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def prepare(server: cluster.Server, tenants: int, scale: Scale, project) -> tuple[str, seed_cmd.SeedResult]:
    """A migrated database (cron jobs not scheduled: they would run during the measurements), seeded."""
    url = server.create_db(f"bench_t{tenants}")
    migrate_cmd.migrate(url, project, sync_cron=False)
    log(f"seeding {tenants} tenants x {scale.deals_per_tenant} deals")
    res = seed_cmd.seed(url, seed_cmd.Scale(tenants, scale.deals_per_tenant, seed="bench"),
                        on_step=_seed_log, jobs=2)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SELECT ops.refresh_pipeline_analytics(), ops.refresh_daily_activity_summary()")
        c.execute("VACUUM (ANALYZE) public.pipeline_analytics, public.daily_activity_summary")
        c.execute("CHECKPOINT")  # the load's dirty pages are written now, not during the measurements
    return url, res


def _seed_log(event: str, step, info: dict) -> None:
    if event == "done":
        log(f"  {step.name}: {info['rows']:,} rows in {info['seconds']:.1f} s")


def machine(url: str, settings: dict) -> dict:
    with psycopg.connect(url, autocommit=True) as c:
        version = c.execute("SELECT version()").fetchone()[0]
        ext = dict(c.execute("SELECT extname, extversion FROM pg_extension ORDER BY 1").fetchall())
        edition = c.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0]
        # pg_cron lives in the cron database, where no one created it in this run: its packaged version
        ext.update(c.execute("SELECT name, default_version FROM pg_available_extensions "
                             "WHERE name = 'pg_cron'").fetchall())
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem_kb = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal")))
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "os": _os_name(), "postgres": version, "extensions": ext,
            "timescaledb_edition": edition, "python": platform.python_version(), "commit": commit,
            "settings": settings}


def _os_name() -> str:
    try:
        return next(ln.split("=", 1)[1].strip('"') for ln in Path("/etc/os-release").read_text().splitlines()
                    if ln.startswith("PRETTY_NAME="))
    except (OSError, StopIteration):
        return platform.system()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="1,000,000 deals and 10,000,000 timeline events")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"), help="report file (default: %(default)s)")
    ap.add_argument("--deals-per-tenant", type=int, help="override the scale's deals per tenant (for trying things)")
    ap.add_argument("--keep", action="store_true", help="keep the cluster's folder (its log) after the run")
    ap.add_argument("--render", metavar="RESULTS", help="only rewrite the report from a run's saved results "
                    "(the .pickle a run leaves in bench-results/), e.g. after editing bench/notes.py")
    args = ap.parse_args(argv)
    if args.render:
        results = pickle.loads(Path(args.render).read_bytes())
        Path(args.out).write_text(report.render(results))
        log(f"wrote {args.out} from {args.render}")
        return
    scale = FULL if args.full else SMALL
    if args.deals_per_tenant:
        scale = Scale(f"{scale.name} ({args.deals_per_tenant} deals per tenant)", scale.tenants, args.deals_per_tenant,
                      scale.runs, scale.target_s, scale.migrate_runs, scale.drift_runs, scale.refresh_runs)
    command = "make bench-full" if args.full else "make bench"
    if args.deals_per_tenant or args.out != str(ROOT / "docs" / "benchmarks.md"):
        command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    results = measure(scale, args.keep)
    results["command"] = command
    saved = ROOT / "bench-results" / f"{Path(args.out).stem}-{scale.name.split()[0]}.pickle"
    saved.parent.mkdir(exist_ok=True)
    saved.write_bytes(pickle.dumps(results))  # --render rewrites the report from these figures
    log(f"figures saved in {saved}")
    Path(args.out).write_text(report.render(results))
    log(f"wrote {args.out} ({results['wall_seconds'] / 60:.1f} min)")


def measure(scale: Scale, keep: bool) -> dict:
    started = time.perf_counter()
    project = config.load(ROOT)
    few, many = scale.tenants
    settings = cluster.settings(scale.name.startswith("full"))
    with cluster.throwaway(scale.name.startswith("full"), keep=keep) as server:
        log(f"cluster in {server.socket_dir}")
        url_many, seeded = prepare(server, many, scale, project)
        url_few, seeded_few = prepare(server, few, scale, project)
        out: dict = {"scale": scale, "seed": seeded, "seed_few": seeded_few, "machine": machine(url_many, settings)}
        log("1. RLS cost")
        out["rls"] = sections.rls_cost(url_many, scale.runs, scale.target_s)
        log("2. tenant scaling")
        out["scaling"] = sections.tenant_scaling(url_many, url_few, scale.runs, scale.target_s)
        log("3. tool overhead")
        out["tool"] = sections.tool_overhead(server, scale.migrate_runs)
        log("4. drift and snapshot")
        out["drift"] = sections.drift(server, scale.drift_runs, 1000)
        log("5. materialized view refresh")
        out["refresh"] = sections.refresh(url_many, scale.refresh_runs)
        out["sizes"] = _sizes(url_many)
    out["wall_seconds"] = time.perf_counter() - started
    out["finished"] = datetime.datetime.now(datetime.timezone.utc)
    return out


def _sizes(url: str) -> dict:
    with psycopg.connect(url, autocommit=True) as c:
        return {"database": c.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]}
