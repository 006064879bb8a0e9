"""tenant-table-rls: a new table with a tenant column enables and forces row-level security in the
migration that creates it (`dbtool check rls` reports the same rule id on a live database)."""

from __future__ import annotations

from typing import Iterator

from pglast import ast

from .. import objects
from ..files import Workspace
from ..model import ERROR, Finding, Rule
from ..settings import LintConfig
from ..sources import SqlFile
from ._common import at

RULE = Rule("tenant-table-rls", ERROR, "a new table with a tenant column enables and forces row-level security "
            "in the same migration",
            "add `ALTER TABLE <table> ENABLE ROW LEVEL SECURITY;`, `... FORCE ROW LEVEL SECURITY;` and its policies "
            "to this migration")


def _rls_changes(f: SqlFile, subtype) -> set[str]:
    return {objects.name_of(s.node.relation) for s in f.statements if isinstance(s.node, ast.AlterTableStmt)
            and any(getattr(c, "subtype", None) == subtype for c in s.node.cmds or ())}


def check(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    if not cfg.tenant_column:  # the project declares no tenancy
        return
    kinds = objects.enums.AlterTableType
    for f in ws.forward:
        enabled = _rls_changes(f, kinds.AT_EnableRowSecurity)
        forced = _rls_changes(f, kinds.AT_ForceRowSecurity)
        for s in f.statements:
            if not isinstance(s.node, ast.CreateStmt):
                continue
            cols = {e.colname for e in s.node.tableElts or () if isinstance(e, ast.ColumnDef)}
            table = objects.name_of(s.node.relation)
            if table.split(".")[0] in cfg.private_schemas:  # reached through views only: `dbtool check rls` checks them
                continue
            missing = [w for w, done in (("enable", enabled), ("force", forced)) if table not in done]
            if cfg.tenant_column in cols and missing:
                yield at(RULE, f, s.node.relation.location or s.start,
                         f"table {table} has a {cfg.tenant_column} column but this migration does not "
                         f"{' and '.join(missing)} row-level security on it")
