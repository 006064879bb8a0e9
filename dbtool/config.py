"""Project settings: where migrations/ and sql/ live, read from [tool.dbtool] in pyproject.toml."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError

CONFIG_FILE = "dbtool.toml"  # the configuration of a project without a pyproject.toml: [tool.dbtool]'s keys
DEFAULTS = {
    "migrations": "migrations",
    "sql": "sql",
    "lock_timeout": "1s",
    "statement_timeout": "30min",
    "advisory_lock_timeout": "60s",
    "concurrent_lock_timeout": "0",
    "lock_retries": "10",
    "lock_retry_delay": "1s",
    "lock_retry_max_delay": "30s",
    # Where migrations declare pg_cron jobs (dbtool/cron.py). The one name of the M&A schema among the
    # defaults (docs/architecture.md): a database without the table declares no jobs, so it assumes nothing.
    "cron_table": "ops.cron_jobs",
}


@dataclass(frozen=True)
class Project:
    root: Path
    settings: dict = field(default_factory=dict)

    def get(self, key: str) -> str:
        if key == "database" and key not in self.settings:
            return self.root.name  # a project that names no database: its folder's name
        return str(self.settings.get(key, DEFAULTS.get(key, "")))

    @property
    def migrations_dir(self) -> Path:
        return self.root / self.get("migrations")

    @property
    def sql_dir(self) -> Path:
        return self.root / self.get("sql")

    @property
    def state_dir(self) -> Path:
        """Local, git-ignored state: the dev cluster lives here."""
        return self.root / ".dbtool"

    def section(self, name: str) -> dict:
        return dict(self.settings.get(name, {}))

    def names(self, key: str) -> list[str]:
        """A list setting (extensions, preload, roles): [] when the project declares none."""
        value = self.settings.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"[tool.dbtool] {key} must be a list of names, like {key} = [\"a\", \"b\"]")
        return list(value)


def find_root(start: Path) -> Path | None:
    for d in [start, *start.parents]:
        if (d / CONFIG_FILE).is_file():
            return d
        if (d / "pyproject.toml").is_file() and "[tool.dbtool" in (d / "pyproject.toml").read_text():
            return d
        if (d / "migrations").is_dir():
            return d
    return None


def load(root: str | Path | None = None) -> Project:
    """The project at `root`, $DBTOOL_PROJECT, or the nearest folder up from here that has one."""
    given = root or os.environ.get("DBTOOL_PROJECT")
    if given:
        path = Path(given).resolve()
        if not path.is_dir():
            raise UsageError(f"project folder {given} does not exist", hint="pass --project DIR")
    else:
        path = find_root(Path.cwd().resolve())
        if path is None:
            raise UsageError("no dbtool project here: no dbtool.toml, no pyproject.toml with [tool.dbtool] and no "
                             "migrations/ in this folder or above",
                             hint="cd into the project, pass --project DIR, or make one: `dbtool init`")
    settings = _read(path / "pyproject.toml").get("tool", {}).get("dbtool", {})
    own = path / CONFIG_FILE
    if own.is_file():
        if settings:
            raise UsageError(f"{path}: both {CONFIG_FILE} and pyproject.toml [tool.dbtool] configure dbtool",
                             hint=f"keep one: {CONFIG_FILE} holds the same keys as [tool.dbtool], at its top level")
        settings = _read(own)
    return Project(root=path, settings=settings)


def _read(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
