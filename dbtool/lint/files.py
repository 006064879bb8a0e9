"""Which files `dbtool lint` reads (the whole project, for context) and which it reports on."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from .. import migrations
from ..config import Project
from ..errors import UsageError
from .settings import LintConfig
from .sources import FORWARD, OTHER, REPEATABLE, ROLLBACK, SqlFile, relpath


@dataclass
class Workspace:
    root: Path
    migrations_dir: Path
    sql_dir: Path
    forward: list[SqlFile] = field(default_factory=list)  # apply order (file name)
    rollbacks: dict[str, SqlFile] = field(default_factory=dict)  # by migration id
    repeatables: list[SqlFile] = field(default_factory=list)
    other: list[SqlFile] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)  # non-SQL files where migrations live

    @property
    def files(self) -> list[SqlFile]:
        return [*self.forward, *self.rollbacks.values(), *self.repeatables, *self.other]

    def only(self, rels: set[str]) -> "Workspace":
        """The same workspace with only the files `rels` (for rules that look at one file at a time)."""
        return Workspace(self.root, self.migrations_dir, self.sql_dir,
                         forward=[f for f in self.forward if f.rel in rels],
                         rollbacks={k: f for k, f in self.rollbacks.items() if f.rel in rels},
                         repeatables=[f for f in self.repeatables if f.rel in rels],
                         other=[f for f in self.other if f.rel in rels],
                         strays=[s for s in self.strays if s in rels])

    @staticmethod
    def transactional(f: SqlFile) -> bool:
        """As `dbtool migrate` reads the file (a value it refuses counts as transactional here)."""
        return migrations.transactional_flag(migrations.directives(f.text).get("transactional", "true")) is not False


def _excluded(rel: str, cfg: LintConfig) -> bool:
    return any(fnmatchcase(rel, p) for p in cfg.exclude)


def load(project: Project, cfg: LintConfig) -> Workspace:
    ws = Workspace(root=project.root, migrations_dir=project.migrations_dir, sql_dir=project.sql_dir)
    seen: set[Path] = set()
    if ws.migrations_dir.is_dir():
        for p in sorted(ws.migrations_dir.iterdir()):
            if not p.is_file() or _excluded(relpath(p, ws.root), cfg):
                continue
            seen.add(p.resolve())
            if p.suffix == ".py":
                ws.strays.append(relpath(p, ws.root))
            elif p.suffix != ".sql":
                continue
            elif p.name.endswith(".rollback.sql"):
                ws.rollbacks[p.name[: -len(".rollback.sql")]] = SqlFile.read(p, ws.root, ROLLBACK)
            elif p.name.startswith("post-apply"):
                ws.other.append(SqlFile.read(p, ws.root, OTHER))
            else:
                ws.forward.append(SqlFile.read(p, ws.root, FORWARD))
    if ws.sql_dir.is_dir():
        for p in sorted(ws.sql_dir.rglob("*.sql")):
            if not _excluded(relpath(p, ws.root), cfg):
                seen.add(p.resolve())
                ws.repeatables.append(SqlFile.read(p, ws.root, REPEATABLE))
    for extra in cfg.paths:
        base = ws.root / extra
        for p in sorted(base.rglob("*.sql") if base.is_dir() else [base] if base.is_file() else []):
            if p.resolve() not in seen and not _excluded(relpath(p, ws.root), cfg):
                seen.add(p.resolve())
                ws.other.append(SqlFile.read(p, ws.root, OTHER))
    return ws


def select(ws: Workspace, paths: list[str] | None, changed: bool, base: str | None) -> set[str]:
    """Relative paths to report on: all files, the given ones, or those changed against git `base`.
    A migration and its rollback go together: rules about the pair report on either file."""
    known = {f.rel for f in ws.files} | set(ws.strays)
    if changed:
        wanted = _git_changed(ws.root, base or "HEAD")
    elif paths:
        wanted = set()
        for given in paths:
            p = Path(given)
            p = p if p.is_absolute() else Path.cwd() / p
            if not p.exists():
                raise UsageError(f"{given}: no such file or folder", hint="pass SQL files or folders of the project")
            r = relpath(p, ws.root)
            wanted |= {k for k in known if k == r or k.startswith(r.rstrip("/") + "/") or r == "."}
    else:
        return known
    picked = {k for k in known if k in wanted}
    for mid, rb in ws.rollbacks.items():
        fwd = relpath(ws.migrations_dir / f"{mid}.sql", ws.root)
        if rb.rel in picked or fwd in picked:
            picked |= {rb.rel, fwd} & known
    return picked


def _git(root: Path, *args: str) -> str:
    try:
        res = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise UsageError("--changed needs git, which is not installed") from None
    if res.returncode != 0:
        raise UsageError(f"git {' '.join(args)}: {(res.stderr.strip().splitlines() or ['failed'])[-1]}",
                         hint="run inside a git checkout, and pass --base REV that exists (e.g. origin/main)")
    return res.stdout


def _git_changed(root: Path, base: str) -> set[str]:
    """Files that differ from the merge base with `base` (committed, staged or not), plus untracked ones."""
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    merge_base = _git(root, "merge-base", base, "HEAD").strip() if base != "HEAD" else "HEAD"
    names = _git(root, "diff", "--name-only", "--diff-filter=d", merge_base).splitlines()
    names += _git(root, "ls-files", "--full-name", "--others", "--exclude-standard").splitlines()
    return {relpath(top / n, root) for n in names if n}
