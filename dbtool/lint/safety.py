"""Layer 2, migration safety: squawk on the forward migration files only.

squawk knows which statements take which locks, rewrite tables or build indexes that block writes.
dbtool runs each transactional migration in one transaction, so those files are linted with
--assume-in-transaction (the others without). A migration that creates a table and then indexes
or alters it is safe: nobody else can see the table until the migration commits. squawk knows that
for some rules only, so findings of the rules in `safe_on_new_table` ([tool.dbtool.lint]) are
dropped when their table was created earlier in the same file. On the tables listed in `large_tables`
the findings that mean a rewrite or a scan under the lock are errors with the safe pattern (large.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from pglast import ast

from ..errors import DbtoolError
from . import large, objects
from .files import Workspace
from .model import ERROR, WARNING, Finding
from .settings import LintConfig
from .sources import SqlFile


def binary() -> str | None:
    """The squawk that the squawk-cli package installed next to this Python, else one on PATH."""
    here = Path(sys.executable).parent / "squawk"
    return str(here) if here.exists() else shutil.which("squawk")


def check(ws: Workspace, cfg: LintConfig, selected: set[str], exe: str) -> list[Finding]:
    groups: dict[bool, list[SqlFile]] = {True: [], False: []}  # by transactional
    for f in ws.forward:
        if f.rel in selected and not f.parse_error:
            groups[ws.transactional(f)].append(f)
    return [found for in_tx, group in groups.items() if group for found in _run(ws, cfg, group, in_tx, exe)]


def _args(cfg: LintConfig, in_tx: bool) -> list[str]:
    args = ["--reporter", "json", "--pg-version", cfg.pg_version]
    args.append("--assume-in-transaction" if in_tx else "--no-assume-in-transaction")
    off, on = _squawk_ids(cfg.disable), _squawk_ids(cfg.enable)
    return args + [f"--exclude={','.join(off)}"] * bool(off) + [f"--include={','.join(on)}"] * bool(on)


def _squawk_ids(rules: list[str]) -> list[str]:
    """squawk's own ids of the `squawk/<id>` rules named exactly (patterns cannot be passed on)."""
    return [r.split("/", 1)[1] for r in rules if r.startswith("squawk/") and not set(r) & set("*?[")]


def _run(ws: Workspace, cfg: LintConfig, group: list[SqlFile], in_tx: bool, exe: str) -> list[Finding]:
    by_path = {str(f.path): f for f in group}
    res = subprocess.run([exe, *_args(cfg, in_tx), *by_path], cwd=ws.root, capture_output=True, text=True,
                         timeout=300)
    if res.returncode not in (0, 1):
        raise DbtoolError(f"squawk failed (exit {res.returncode}): {res.stderr.strip()[:300]}",
                          hint="run the squawk command by hand to see why; is squawk-cli installed?")
    try:
        violations = json.loads(res.stdout or "[]")
    except json.JSONDecodeError:
        raise DbtoolError("squawk printed something that is not JSON", detail=res.stdout[:500]) from None
    out = []
    for v in violations:
        f = by_path.get(v["file"]) or by_path.get(str((ws.root / v["file"]).resolve()))
        if f is None:
            continue
        rule = f"squawk/{v['rule_name']}"
        line, col = v["line"] + 1, v["column"] + 1
        if cfg.safe_when_new(rule) and _on_new_table(f, line):
            continue
        stmt = f.statement_at(line)
        if rule == "squawk/adding-not-nullable-field" and stmt and (
                large.not_null_proven(ws.forward, f, stmt) or large.is_large(cfg, objects.target_table(stmt.node))):
            continue  # proven by a validated CHECK (no scan); on a large table large-table-rewrite reads it exactly
        sev = ERROR if str(v.get("level", "")).lower() == "error" else WARNING
        found = Finding(f.rel, line, col, sev, rule, v["message"], hint=v.get("help"), layer="safety")
        out.append(large.escalate(found, stmt, cfg))
    return out


def _on_new_table(f: SqlFile, line: int) -> bool:
    stmt = f.statement_at(line)
    target = objects.target_table(stmt.node) if stmt else None
    if target is None:
        return False
    made = {key[1] for s in f.statements if s.start < stmt.start
            and isinstance(s.node, (ast.CreateStmt, ast.CreateTableAsStmt))  # tables, materialized views
            for key, _ in objects.created(s.node)}
    return target in made
