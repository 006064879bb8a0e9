"""Project settings: where migrations/ and sql/ live, read from [tool.dbtool] in pyproject.toml."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError

DEFAULTS = {
    "database": "maplatform",
    "migrations": "migrations",
    "sql": "sql",
    "lock_timeout": "1s",
    "statement_timeout": "30min",
    "advisory_lock_timeout": "60s",
    "concurrent_lock_timeout": "0",
    "lock_retries": "10",
    "lock_retry_delay": "1s",
    "lock_retry_max_delay": "30s",
}


@dataclass(frozen=True)
class Project:
    root: Path
    settings: dict = field(default_factory=dict)

    def get(self, key: str) -> str:
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


def find_root(start: Path) -> Path | None:
    for d in [start, *start.parents]:
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
            raise UsageError("no dbtool project here: no pyproject.toml with [tool.dbtool] and no migrations/ "
                             "in this folder or above", hint="cd into the project, or pass --project DIR")
    settings: dict = {}
    pyproject = path / "pyproject.toml"
    if pyproject.is_file():
        try:
            settings = tomllib.loads(pyproject.read_text()).get("tool", {}).get("dbtool", {})
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{pyproject}: invalid TOML: {exc}") from None
    return Project(root=path, settings=settings)
