"""Benchmark of `dbtool lint` on a project (a measurement, not a test): each variant run N times,
median wall time, side by side, so the layers' costs can be compared in one run.

    .venv/bin/python -m dbtool.lint.bench [--runs 5] [--project DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .. import config

DBTOOL = str(Path(sys.executable).parent / "dbtool")


def variants(project: config.Project) -> list[tuple[str, list[str]]]:
    newest = [p for p in sorted(project.migrations_dir.glob("[0-9]*.sql"))
              if not p.name.endswith(".rollback.sql")][-1:]  # the newest forward migration
    return [
        ("make lint: all layers, bodies in a temporary cluster", ["--temp-cluster"]),
        ("all layers but bodies (no database)", []),
        ("style only (sqlfluff)", ["--layer", "style"]),
        ("safety only (squawk)", ["--layer", "safety"]),
        ("rules only (pglast)", ["--layer", "rules"]),
        ("bodies only (temporary cluster + migrate + plpgsql_check)", ["--layer", "bodies", "--temp-cluster"]),
        (f"one file, all layers but bodies ({newest[0].name if newest else '-'})", [str(p) for p in newest]),
    ]


def measure(args: list[str], root: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        res = subprocess.run([DBTOOL, "lint", "--project", str(root), *args], capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if res.returncode not in (0, 1):
            raise SystemExit(f"dbtool lint {' '.join(args)} failed: {res.stderr.strip()}")
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--project", default=None)
    opts = ap.parse_args()
    project = config.load(opts.project)
    files = [*project.migrations_dir.glob("*.sql"), *project.sql_dir.rglob("*.sql")]
    lines = sum(p.read_text().count("\n") for p in files)
    print(f"{len(files)} SQL files, {lines} lines; median of {opts.runs} runs each")
    base = None
    for label, args in variants(project):
        med = statistics.median(measure(args, project.root, opts.runs))
        base = base or med
        print(f"{med:7.2f} s  {med / base:5.2f}x  {label}")


if __name__ == "__main__":
    main()
