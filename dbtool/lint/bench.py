"""Benchmark of `dbtool lint` on a project (a measurement, not a test): each variant run N times,
interleaved (run 1 of every variant, then run 2 of every variant...), so that the machine's load
falls on all of them alike; median and fastest wall time, side by side.

    .venv/bin/python -m dbtool.lint.bench [--runs 5] [--project DIR] [--only one-file|project]
                                          [--file REL] [--baseline DIR] [--database-url URL]

one-file: a copy of the project's SQL in a new git repository, its newest migration (or --file)
edited before every run (a new text each time, so no cache knows it), then `dbtool lint --changed`
against `sqlfluff lint` of that same file alone. project: the whole project, with sqlfluff's cache cold
(DBTOOL_LINT_CACHE=off) and warm (nothing changed since the last run), and each layer alone.
--baseline DIR adds the same `dbtool lint` run from another checkout of dbtool (e.g. `git worktree
add /tmp/before <rev>`), for before/after figures in one run. --database-url adds `--changed` with
function bodies checked in that database (migrated to head).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import config

BIN = Path(sys.executable).parent
DBTOOL = str(BIN / "dbtool")
SQLFLUFF = str(BIN / "sqlfluff")
# No database from the environment: the bodies layer runs only where a variant asks for it.
CLEAN_ENV = {k: v for k, v in os.environ.items()
             if k != "DATABASE_URL" and not k.startswith(("PG", "DBTOOL_LINT_"))}


class Variant:
    def __init__(self, label: str, argv: list[str], cwd: Path, env: dict | None = None, before=None):
        self.label, self.argv, self.cwd, self.env, self.before = label, argv, cwd, env or {}, before
        self.times: list[float] = []

    def run(self, n: int, record: bool = True) -> None:
        if self.before:
            self.before(n)
        t0 = time.perf_counter()
        res = subprocess.run(self.argv, cwd=self.cwd, env={**CLEAN_ENV, **self.env}, capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        if res.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(self.argv)} failed (exit {res.returncode}): {res.stderr.strip()[-800:]}")
        if record:
            self.times.append(elapsed)


def dbtool(args: list[str], baseline: str | None = None) -> tuple[list[str], dict]:
    """The dbtool console script; with `baseline`, the dbtool package of that checkout instead."""
    return [DBTOOL, "lint", *args], ({"PYTHONPATH": baseline} if baseline else {})


def newest_migration(root: Path) -> Path | None:
    found = [p for p in sorted((root / "migrations").glob("[0-9]*.sql")) if not p.name.endswith(".rollback.sql")]
    return found[-1] if found else None


def one_file(project: config.Project, work: Path, opts) -> tuple[str, list[Variant]]:
    """A git repository holding a copy of the project's SQL and lint config; its newest migration is
    edited before every run."""
    repo = work / "project"
    for name in ("migrations", "sql"):
        if (project.root / name).is_dir():
            shutil.copytree(project.root / name, repo / name)
    for name in ("pyproject.toml", ".sqlfluff"):
        if (project.root / name).is_file():
            shutil.copy(project.root / name, repo / name)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    target = repo / opts.file if opts.file else newest_migration(repo)
    if target is None or not target.is_file():
        raise SystemExit(f"no migration to edit: {opts.file or 'migrations/ is empty'}")
    original = target.read_text()
    rel = str(target.relative_to(repo))

    def edit(n: int) -> None:  # a text no cache has seen
        target.write_text(original + f"\n-- bench edit {n} {time.time_ns()}\n")

    variants = [Variant(f"sqlfluff lint {rel} (sqlfluff alone)", [SQLFLUFF, "lint", rel], repo, before=edit)]
    argv, env = dbtool(["--changed"])
    variants.append(Variant("dbtool lint --changed (style, safety, rules)", argv, repo, env, edit))
    variants.append(Variant("dbtool lint --changed, cache off", argv, repo, {**env, "DBTOOL_LINT_CACHE": "off"}, edit))
    if opts.database_url:
        argv, env = dbtool(["--changed", "--database-url", opts.database_url])
        variants.append(Variant("dbtool lint --changed --database-url (all four layers)", argv, repo, env, edit))
    if opts.baseline:
        argv, env = dbtool(["--changed"], opts.baseline)
        variants.append(Variant(f"before: dbtool lint --changed ({opts.baseline})", argv, repo, env, edit))
    return f"one changed file: {rel} ({original.count(chr(10))} lines) and its rollback", variants


def whole(project: config.Project, opts) -> tuple[str, list[Variant]]:
    root = project.root
    cold = {"DBTOOL_LINT_CACHE": "off"}
    spec = [
        ("make lint: all layers, bodies in a temporary cluster, cache cold", ["--temp-cluster"], cold),
        ("make lint, cache warm (nothing changed)", ["--temp-cluster"], {}),
        ("all layers but bodies, cache cold", [], cold),
        ("all layers but bodies, cache warm (nothing changed)", [], {}),
        ("style only (sqlfluff), cache cold", ["--layer", "style"], cold),
        ("safety only (squawk)", ["--layer", "safety"], {}),
        ("rules only (pglast)", ["--layer", "rules"], {}),
        ("bodies only (temporary cluster + migrate + plpgsql_check)", ["--layer", "bodies", "--temp-cluster"], {}),
    ]
    variants = []
    for label, args, env in spec:
        argv, base_env = dbtool(["--project", str(root), *args])
        variants.append(Variant(label, argv, root, {**base_env, **env}))
    if opts.baseline:
        argv, env = dbtool(["--project", str(root), "--temp-cluster"], opts.baseline)
        variants.append(Variant(f"before: make lint ({opts.baseline})", argv, root, env))
        argv, env = dbtool(["--project", str(root)], opts.baseline)
        variants.append(Variant(f"before: all layers but bodies ({opts.baseline})", argv, root, env))
    files = [*project.migrations_dir.glob("*.sql"), *project.sql_dir.rglob("*.sql")]
    lines = sum(p.read_text().count("\n") for p in files)
    return f"the whole project: {len(files)} SQL files, {lines} lines", variants


def measure(title: str, variants: list[Variant], runs: int) -> None:
    for v in variants:  # one warm-up each: page cache, .pyc files, the style cache of unchanged files
        v.run(0, record=False)
    for n in range(1, runs + 1):
        for v in variants:
            v.run(n)
    print(f"{title}; median (fastest) of {runs} interleaved runs")
    base = statistics.median(variants[0].times)
    for v in variants:
        med = statistics.median(v.times)
        print(f"{med:7.2f} s ({min(v.times):5.2f})  {med / base:5.2f}x  {v.label}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--project", default=None)
    ap.add_argument("--only", choices=["one-file", "project"])
    ap.add_argument("--baseline", metavar="DIR", help="another checkout of dbtool to run side by side")
    ap.add_argument("--database-url", metavar="URL", help="a database at head, for the bodies layer")
    ap.add_argument("--file", metavar="REL", help="the file the one-file section edits (default: the newest "
                    "migration), relative to the project")
    opts = ap.parse_args()
    project = config.load(opts.project)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory(prefix="dbtool-lint-bench-") as tmp:
        if opts.only in (None, "one-file"):
            measure(*one_file(project, Path(tmp), opts), opts.runs)
        if opts.only in (None, "project"):
            measure(*whole(project, opts), opts.runs)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
