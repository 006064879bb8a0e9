"""`python -m bench [--full]`: start a throwaway cluster, migrate and seed two databases (100 and 1,000
tenants of the same size), give one tenant of the 1,000 a hundred times the median tenant's timeline
events, measure, and write docs/benchmarks.md.

    make bench        # small scale: 100 and 1,000 tenants x 20 deals; a few minutes
    make bench-full   # 100 and 1,000 tenants x 1,000 deals: 1,000,000 deals, 10,000,000 timeline events
    PG_BINDIR=/opt/pg-community/usr/lib/postgresql/15/bin make bench   # the same on the community edition
    python -m bench --only tool   # section 4 alone (start-up, migrate against psql), printed; about a minute

The cluster runs whichever TimescaleDB edition its binaries load (dbtool.cluster.find_bindir: PG_BINDIR,
else Debian's, the Apache edition). Each run saves its figures in bench-results/<report>-<scale>-<edition>.pickle;
the report includes the timeline section (7) of the other edition's latest run of the same scale when
there is one, so running both editions, in either order, gives one report with both. Section 8 (migrations
under live traffic) is measured apart, by `python -m bench.load [--full]` on its own cluster; the report
includes its latest saved run (bench-results/load-<scale>.pickle, full scale when there is one).
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
from dbtool.commands import seed as seed_loader

from . import cluster, load, plots, report, sections, timeline

ROOT = Path(__file__).resolve().parent.parent
seed_cmd = seed_loader.generator(config.load(ROOT))  # seed/generate.py, loaded as `dbtool seed` loads it


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
    startup_runs: int = 15  # section 4's start-up figures: repetitions of each side, batches of startup_target_s
    startup_target_s: float = 0.3


SMALL = Scale("small", (100, 1000), 20, runs=21, target_s=0.05, migrate_runs=7, drift_runs=3, refresh_runs=7)
FULL = Scale("full", (100, 1000), 1000, runs=15, target_s=0.2, migrate_runs=7, drift_runs=5, refresh_runs=5)


def log(msg: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def prepare(server: cluster.Server, tenants: int, scale: Scale, project,
            skewed: bool = False) -> tuple[str, seed_cmd.SeedResult, dict]:
    """A migrated database (cron jobs not scheduled: they would run during the measurements), seeded;
    skewed: one tenant with 100 times the median tenant's timeline events. Then what the edition's
    jobs would have done: compression and the daily summary (timed, bench/timeline.py)."""
    url = server.create_db(f"bench_t{tenants}")
    migrate_cmd.migrate(url, project, sync_cron=False)
    log(f"seeding {tenants} tenants x {scale.deals_per_tenant} deals")
    res = seed_cmd.seed(url, seed_cmd.Scale(tenants, scale.deals_per_tenant, seed="bench"),
                        on_step=_seed_log, jobs=2)
    info: dict = {}
    if skewed:
        info["skew"] = timeline.skew(url)
        log(f"  large tenant: {info['skew']['added']:,} extra timeline events in {info['skew']['seconds']:.1f} s")
    info["maintenance"] = timeline.maintain(url)
    log(f"  timeline maintained ({timeline.edition_name(info['maintenance']['edition'])} edition)")
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SELECT ops.refresh_pipeline_analytics()")
        c.execute("VACUUM (ANALYZE) public.pipeline_analytics")
        c.execute("CHECKPOINT")  # the load's dirty pages are written now, not during the measurements
    return url, res, info


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
    changed = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                             capture_output=True, text=True).stdout.strip()
    if changed:
        commit += " with uncommitted changes"
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
    ap.add_argument("--only", choices=["tool"],
                    help="run one section on its own throwaway cluster (no seed data) and print it with its summary "
                         "rows; docs/benchmarks.md is left alone. tool: section 4, start-up and migrate against psql")
    ap.add_argument("--render", metavar="RESULTS", nargs="+",
                    help="only rewrite the report from saved results (the .pickle files a run leaves in "
                         "bench-results/), e.g. after editing bench/notes.py: the first is the report's run, "
                         "the others add their edition's timeline section")
    args = ap.parse_args(argv)
    if args.render:
        results = [pickle.loads(Path(f).read_bytes()) for f in args.render]
        Path(args.out).write_text(report.render(results[0], results[1:], load.saved(), plots.folder(args.out)))
        log(f"wrote {args.out} from {', '.join(args.render)}")
        return
    scale = FULL if args.full else SMALL
    if args.only:
        print(only_tool(scale, args.keep))
        return
    if args.deals_per_tenant:
        scale = Scale(f"{scale.name} ({args.deals_per_tenant} deals per tenant)", scale.tenants, args.deals_per_tenant,
                      scale.runs, scale.target_s, scale.migrate_runs, scale.drift_runs, scale.refresh_runs)
    command = "make bench-full" if args.full else "make bench"
    if args.deals_per_tenant or args.out != str(ROOT / "docs" / "benchmarks.md"):
        command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    results = measure(scale, args.keep)
    results["command"] = command
    results["pg_bindir"] = os.environ.get("PG_BINDIR")
    saved = _saved(args.out, scale.name, results["edition"])
    saved.parent.mkdir(exist_ok=True)
    saved.write_bytes(pickle.dumps(results))  # --render rewrites the report from these figures
    log(f"figures saved in {saved}")
    others = []
    for edition in ("apache", "timescale"):
        other = _saved(args.out, scale.name, edition)
        if edition != results["edition"] and other.is_file():
            others.append(pickle.loads(other.read_bytes()))
            log(f"the {timeline.edition_name(edition)} edition's timeline section from {other}")
    Path(args.out).write_text(report.render(results, others, load.saved(), plots.folder(args.out)))
    log(f"wrote {args.out} ({results['wall_seconds'] / 60:.1f} min)")


def write_saved_report(out: str) -> bool:
    """Write the report again from the newest saved run of it (and the other edition's run of the same
    scale), with the latest saved load run (python -m bench.load) as section 8; False without a run."""
    runs = sorted(ROOT.joinpath("bench-results").glob(f"{Path(out).stem}-*.pickle"), key=lambda p: p.stat().st_mtime)
    if not runs:
        return False
    main = pickle.loads(runs[-1].read_bytes())
    scale = main["scale"].name.split()[0]
    others = [pickle.loads(p.read_bytes()) for p in runs[:-1] if p.name.startswith(f"{Path(out).stem}-{scale}-")]
    Path(out).write_text(report.render(main, others, load.saved(), plots.folder(out)))
    return True


def only_tool(scale: Scale, keep: bool = False) -> str:
    """`python -m bench --only tool`: section 4 alone, on a throwaway cluster, as the report would show it."""
    started = time.perf_counter()
    with cluster.throwaway(scale.name.startswith("full"), keep=keep) as server:
        log(f"cluster in {server.socket_dir}")
        log("4. tool overhead")
        tool = sections.tool_overhead(server, scale.migrate_runs, scale.startup_runs, scale.startup_target_s)
    log(f"done in {time.perf_counter() - started:.0f} s")
    return report.tool_only({"tool": tool})


def _saved(out: str, scale: str, edition: str) -> Path:
    """Where a run's figures are kept: one file per report, scale and TimescaleDB edition."""
    return ROOT / "bench-results" / f"{Path(out).stem}-{scale.split()[0]}-{edition}.pickle"


def measure(scale: Scale, keep: bool) -> dict:
    started = time.perf_counter()
    project = config.load(ROOT)
    few, many = scale.tenants
    settings = cluster.settings(scale.name.startswith("full"))
    with cluster.throwaway(scale.name.startswith("full"), keep=keep) as server:
        log(f"cluster in {server.socket_dir}")
        url_many, seeded, data = prepare(server, many, scale, project, skewed=True)
        url_few, seeded_few, _ = prepare(server, few, scale, project)
        out: dict = {"scale": scale, "seed": seeded, "seed_few": seeded_few, "machine": machine(url_many, settings)}
        out["edition"] = out["machine"]["timescaledb_edition"]
        log(f"TimescaleDB edition: {timeline.edition_name(out['edition'])}")
        log("1. RLS cost")
        out["rls"] = sections.rls_cost(url_many, scale.runs, scale.target_s)
        log("2. tenant context")
        out["context"] = sections.tenant_context(url_many, scale.runs, scale.target_s)
        log("3. tenant scaling")
        out["scaling"] = sections.tenant_scaling(url_many, url_few, scale.runs, scale.target_s)
        log("4. tool overhead")
        out["tool"] = sections.tool_overhead(server, scale.migrate_runs, scale.startup_runs, scale.startup_target_s)
        log("5. drift and snapshot")
        out["drift"] = sections.drift(server, scale.drift_runs, 1000)
        log("6. materialized view refresh")
        out["refresh"] = sections.refresh(url_many, scale.refresh_runs)
        log("7. the timeline, skewed")
        out["timeline"] = timeline.measure(url_many, scale.runs, scale.target_s, data)
        out["sizes"] = _sizes(url_many)
    out["wall_seconds"] = time.perf_counter() - started
    out["finished"] = datetime.datetime.now(datetime.timezone.utc)
    return out


def _sizes(url: str) -> dict:
    with psycopg.connect(url, autocommit=True) as c:
        return {"database": c.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]}
