"""`dbtool init [DIR]`: a new dbtool project: its configuration, the folders, a first migration pair.

Every file is made only where none is: running it twice changes nothing, and it never overwrites a
file. A folder that already has migrations gets no example pair; a pyproject.toml that already
configures dbtool ([tool.dbtool]) gets no dbtool.toml beside it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import CONFIG_FILE, load
from ..errors import UsageError

CONFIG = """# dbtool's configuration of this project. Every key is optional; these are the defaults.
# The same keys can live under [tool.dbtool] in a pyproject.toml instead (README, "Configuration").

# The database `dbtool dev up` creates (default: this folder's name).
database = {database}
# Where the versioned migrations and the repeatable objects (sql/functions, sql/policies, sql/views) are.
migrations = "migrations"
sql = "sql"
# The role every migration runs as (each file starts with SET LOCAL ROLE <it>); empty: the connecting role.
owner_role = ""
# What the schema needs of the server: `dbtool doctor` checks each, `dbtool dev up` and the scratch
# clusters preload the libraries. E.g. extensions = ["pgcrypto"], preload = ["pg_stat_statements"].
extensions = []
preload = []
# The roles the migrations create and grant to.
roles = []
# For a schema that has them (README, "Configuration"), none by default: cron_table, the table its
# migrations declare pg_cron jobs in; [rls], its tenancy for `dbtool check rls` (tenant_column,
# tenant_table, app_roles); [timescaledb], the hypertables whose jobs `dbtool doctor` checks.
# The limits every migration runs under (docs/engine.md): a migration that waits longer than
# lock_timeout for a lock is rolled back and retried lock_retries times, with growing pauses.
lock_timeout = "1s"
lock_retries = 10
statement_timeout = "30min"
# `dbtool seed [ARGS...]` runs the project's demo-data generator with ARGS: a Python file, relative to
# this folder, that defines a Typer `app` or a `main(args)` (none by default).
# seed = "seed/generate.py"

[lint]
# `dbtool lint` (docs/lint.md): its layers, and rule ids (or globs) to turn off, each with its reason.
layers = ["style", "safety", "bodies", "rules"]
disable = [
    # dbtool sets lock_timeout and statement_timeout around every migration itself.
    "squawk/require-lock-timeout",
    "squawk/require-statement-timeout",
    "squawk/require-timeout-settings",
]
# Tables too large to rewrite under a lock: squawk's rewrite findings on them become errors.
large_tables = []
"""

FIRST = """-- Why: the project's first table; replace it with yours.
-- `dbtool new NAME --why TEXT` makes the next pair.
CREATE TABLE public.example (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""
FIRST_ROLLBACK = """-- Undoes 0001_create_example.
DROP TABLE public.example;
"""
FIRST_NAME = "0001_create_example"
GITIGNORE = "# dbtool's local state: the dev cluster and its password file\n.dbtool/\n"


@dataclass
class InitResult:
    root: Path
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # there already: left as they were

    def as_dict(self) -> dict:
        return {"root": str(self.root), "created": self.created, "kept": self.kept}

    def lines(self, quiet: bool = False) -> list[str]:
        there = "" if self.root == Path.cwd().resolve() else f"`cd {self.root}`, "
        return ([f"created {rel}" for rel in self.created] + [f"kept    {rel} (already there)" for rel in self.kept]
                + [f"{self.root}: {len(self.created)} made, {len(self.kept)} already there; next: {there}"
                   "`dbtool dev up`, then `dbtool migrate` with the URL it prints"])


def init(directory: str | Path = ".") -> InitResult:
    root = Path(directory).resolve()
    if root.exists() and not root.is_dir():
        raise UsageError(f"{directory} is a file, not a folder", hint="give dbtool init a folder")
    root.mkdir(parents=True, exist_ok=True)
    result = InitResult(root=root)
    for rel, text in _files(root).items():
        _make(root, rel, text, result)
    return result


def _files(root: Path) -> dict[str, str | None]:
    """What a project needs, relative to root; None: a folder."""
    files: dict[str, str | None] = {}
    pyproject = root / "pyproject.toml"
    if not (pyproject.is_file() and "[tool.dbtool" in pyproject.read_text()):
        files[CONFIG_FILE] = CONFIG.format(database=json.dumps(root.name))  # a TOML basic string too
    folders = _configured_folders(root)
    files[folders["migrations"]] = None
    migrations = root / folders["migrations"]
    if not (migrations.is_dir() and any(migrations.glob("*.sql"))):
        files[f"{folders['migrations']}/{FIRST_NAME}.sql"] = FIRST
        files[f"{folders['migrations']}/{FIRST_NAME}.rollback.sql"] = FIRST_ROLLBACK
    for kind in ("functions", "policies", "views"):
        files[f"{folders['sql']}/{kind}"] = None
    files[".gitignore"] = GITIGNORE
    return files


def _configured_folders(root: Path) -> dict[str, str]:
    """The folders an existing configuration names, else the defaults."""
    try:
        project = load(root)
    except UsageError:
        return {"migrations": "migrations", "sql": "sql"}
    return {"migrations": project.get("migrations"), "sql": project.get("sql")}


def _ignores_state(path: Path) -> bool | None:
    """Whether a .gitignore (a regular file) already ignores .dbtool/; None for anything else."""
    if path.is_symlink() or not path.is_file():
        return None
    return any(line.strip().rstrip("/") in (".dbtool", "/.dbtool") for line in path.read_text().splitlines())


def _make(root: Path, rel: str, text: str | None, result: InitResult) -> None:
    path = root / rel
    if text is None:
        if path.is_dir():
            result.kept.append(rel + "/")
            return
        path.mkdir(parents=True)
        result.created.append(rel + "/")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: a file made meanwhile, or a link planted there, is never written through
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        if rel == ".gitignore" and _ignores_state(path) is False:
            text_there = path.read_text()
            with open(path, "a") as f:  # appended, never rewritten: .dbtool/ holds the dev password file
                f.write(("\n" if text_there and not text_there.endswith("\n") else "") + GITIGNORE)
            result.created.append(".gitignore (.dbtool/ added)")
            return
        result.kept.append(rel)
        return
    with os.fdopen(fd, "w") as f:
        f.write(text)
    result.created.append(rel)
