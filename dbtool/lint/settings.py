"""[tool.dbtool.lint] in pyproject.toml: which paths, layers and rules `dbtool lint` uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from ..config import Project
from ..errors import UsageError

LAYERS = ("style", "safety", "bodies", "rules")

# squawk rules that cannot hurt when their table was created earlier in the same migration: the
# table is new and empty, and the whole migration runs in one transaction, so nobody else sees it
# until it commits. A project can override the list with `safe_on_new_table` in [tool.dbtool.lint].
SAFE_ON_NEW_TABLE = [
    "squawk/adding-required-field",
    "squawk/adding-not-nullable-field",
    "squawk/adding-field-with-default",
    "squawk/adding-foreign-key-constraint",
    "squawk/adding-serial-primary-key-field",
    "squawk/constraint-missing-not-valid",
    "squawk/disallowed-unique-constraint",
    "squawk/require-concurrent-index-creation",
    "squawk/changing-column-type",
    "squawk/ban-drop-column",
    "squawk/renaming-column",
]

# Rules that need a setting (LintConfig field) to mean anything.
NEEDS = {"owner-role": "owner_role", "tenant-table-rls": "tenant_column"}


@dataclass
class LintConfig:
    paths: list[str] = field(default_factory=list)  # empty: the project's migrations/ and sql/
    exclude: list[str] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)
    enable: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=lambda: list(LAYERS))
    safe_on_new_table: list[str] = field(default_factory=lambda: list(SAFE_ON_NEW_TABLE))
    # Default to [tool.dbtool] owner_role and [tool.dbtool.rls] tenant_column; empty: their rules do not apply
    owner_role: str = ""
    tenant_column: str = ""
    private_schemas: list[str] = field(default_factory=list)  # default: [tool.dbtool.rls] private_schemas
    pg_version: str = "15"
    # schema.table names (or globs) of tables too large to rewrite or scan under ACCESS EXCLUSIVE
    # (lint/large.py): squawk's rewrite findings on them are errors, and large-table-rewrite applies
    large_tables: list[str] = field(default_factory=list)

    def active(self, rule: str) -> bool:
        """Enabled explicitly, or not disabled. Entries are rule ids or globs such as `squawk/*`. A rule
        about a setting the project does not give (no owner role) never applies."""
        if rule in NEEDS and not getattr(self, NEEDS[rule]):
            return False
        if any(fnmatchcase(rule, p) for p in self.enable):
            return True
        return not any(fnmatchcase(rule, p) for p in self.disable)

    def safe_when_new(self, rule: str) -> bool:
        return any(fnmatchcase(rule, p) for p in self.safe_on_new_table)


def load(project: Project) -> LintConfig:
    raw = project.section("lint")
    known = set(LintConfig.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UsageError(f"pyproject.toml [tool.dbtool.lint]: unknown setting(s) {', '.join(unknown)}",
                         hint=f"known settings: {', '.join(sorted(known))}")
    rls = project.section("rls")
    inherited = {"owner_role": project.get("owner_role"), "tenant_column": rls.get("tenant_column"),
                 "private_schemas": rls.get("private_schemas")}
    cfg = LintConfig(**{**{k: v for k, v in inherited.items() if v}, **raw})
    for name in ("paths", "exclude", "disable", "enable", "layers", "safe_on_new_table", "large_tables",
                 "private_schemas"):
        value = getattr(cfg, name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"pyproject.toml [tool.dbtool.lint]: {name} must be a list of strings")
    for name in ("owner_role", "tenant_column"):
        if not isinstance(getattr(cfg, name), str):
            raise UsageError(f"pyproject.toml [tool.dbtool.lint]: {name} must be a string")
    check_layers(cfg.layers, "pyproject.toml [tool.dbtool.lint]: ")
    return cfg


def check_layers(names: list[str], where: str = "") -> None:
    bad = sorted(set(names) - set(LAYERS))
    if bad:
        raise UsageError(f"{where}unknown layer(s) {', '.join(bad)}", hint=f"layers are {', '.join(LAYERS)}")
