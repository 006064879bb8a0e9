"""Statements that lock a large table for as long as rewriting or scanning all of it takes.

On a table the project lists in `large_tables` ([tool.dbtool.lint]), an ACCESS EXCLUSIVE lock held
for a rewrite or a full scan stalls every query of the application on that table for minutes, and
no lock_timeout or retry helps: the lock has been had. dbtool's engine bounds only the wait *for*
a lock (docs/engine.md, "Under load").

squawk already flags most of these statements on every table, as warnings: changing-column-type,
adding-field-with-default (a volatile default or a stored generated column: a rewrite),
adding-not-nullable-field (SET NOT NULL: a scan), constraints without NOT VALID, unique and primary
keys built under the lock, indexes built without CONCURRENTLY. On a large table dbtool makes those
findings errors and gives the safe pattern as the hint (`escalate`), instead of flagging them a
second time. The rule `large-table-rewrite` covers what squawk does not see (`rewrites`), and SET NOT
NULL on a large table: PostgreSQL 12+ skips its scan when a validated CHECK (col IS NOT NULL) proves
it, which squawk guesses from any VALIDATE earlier in the same file (a VALIDATE of another column's
CHECK silences it; a CHECK validated by an earlier migration does not), so on large tables the rule
reads the migrations instead and squawk's finding is dropped; on any table, squawk's finding on a
SET NOT NULL that such a CHECK proves is dropped (`not_null_proven`).
"""

from __future__ import annotations

from dataclasses import replace
from fnmatch import fnmatchcase

from pglast import ast, enums

from . import objects
from .model import ERROR, Finding
from .settings import LintConfig
from .sources import SqlFile, Stmt

AT = enums.AlterTableType
SERIAL_TYPES = {"serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"}

EXPAND_CONTRACT = ("add a new column of the new type, fill it in batches (a trigger keeps new writes in step), "
                   "switch the application to it, then drop the old column in a later migration; widening a "
                   "varchar or varchar to text rewrites nothing (suppress with that reason)")
BACKFILL = ("add the column without a default (or with a constant one: no rewrite since PostgreSQL 11), then "
            "`ALTER COLUMN ... SET DEFAULT` (new rows only, no rewrite), and fill the existing rows in batches "
            "of a few thousand, each its own transaction")
CHECK_FIRST = ("add `CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it in a later migration (that scan "
               "blocks no reads or writes), then SET NOT NULL: PostgreSQL uses the validated CHECK and scans nothing")
NOT_VALID = "add it `NOT VALID` (no scan), then `VALIDATE CONSTRAINT` in a later migration, which blocks no reads or writes"
INDEX_FIRST = ("`CREATE UNIQUE INDEX CONCURRENTLY` in a `-- transactional: false` migration, then "
               "`ADD CONSTRAINT ... UNIQUE USING INDEX` (or PRIMARY KEY USING INDEX): a catalog change")
CONCURRENT = "build it `CONCURRENTLY`, in a migration of its own marked `-- transactional: false`"
REWRITE_TOOL = ("there is no lock-free way in core PostgreSQL: do it in a maintenance window, or with pg_repack / "
                "pg_squeeze, which rebuild the table beside the old one and swap them under a short lock")

# squawk's findings that mean a rewrite, a scan or an index build under a lock that blocks the
# application, and the safe pattern for each.
ESCALATED = {
    "squawk/changing-column-type": EXPAND_CONTRACT,
    "squawk/adding-field-with-default": BACKFILL,
    "squawk/constraint-missing-not-valid": NOT_VALID,
    "squawk/adding-foreign-key-constraint": NOT_VALID,
    "squawk/disallowed-unique-constraint": INDEX_FIRST,
    "squawk/adding-serial-primary-key-field": INDEX_FIRST,
    "squawk/require-concurrent-index-creation": CONCURRENT,
}


def is_large(cfg: LintConfig, table: str | None) -> bool:
    return table is not None and any(fnmatchcase(table, p) for p in cfg.large_tables)


def escalate(found: Finding, stmt: Stmt | None, cfg: LintConfig) -> Finding:
    """squawk's finding, made an error with the safe pattern when its table is large."""
    table = objects.target_table(stmt.node) if stmt else None
    if found.rule not in ESCALATED or not is_large(cfg, table):
        return found
    return replace(found, severity=ERROR, hint=ESCALATED[found.rule],
                   message=f"{found.message} ({table} is in large_tables: this lock is held for the whole table)")


def rewrites(node) -> list[tuple[str, str, str]]:
    """(table, what, safe pattern) for each part of the statement that rewrites or scans a whole
    table under ACCESS EXCLUSIVE and that squawk does not flag."""
    if isinstance(node, ast.AlterTableStmt):
        table = objects.name_of(node.relation)
        return [(table, what, pattern) for cmd in node.cmds or () for what, pattern in _alter(cmd)]
    if isinstance(node, ast.VacuumStmt) and any(o.defname == "full" for o in node.options or ()):
        return [(objects.name_of(r.relation), "VACUUM FULL rewrites the table", REWRITE_TOOL)
                for r in node.rels or () if r.relation is not None]
    if isinstance(node, ast.ClusterStmt) and node.relation is not None:
        return [(objects.name_of(node.relation), "CLUSTER rewrites the table", REWRITE_TOOL)]
    if isinstance(node, ast.RefreshMatViewStmt) and not node.concurrent:
        return [(objects.name_of(node.relation), "REFRESH MATERIALIZED VIEW without CONCURRENTLY locks out its readers",
                 "REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index on the view)")]
    return []


def _alter(cmd: ast.AlterTableCmd) -> list[tuple[str, str]]:
    if cmd.subtype == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
        col = cmd.def_
        out = []
        if col.typeName is not None and col.typeName.names[-1].sval in SERIAL_TYPES:
            out.append((f"adding the {col.typeName.names[-1].sval} column {col.colname} rewrites the table "
                        "(its default, nextval(), is volatile)",
                        "add a bigint column without a default, then `ALTER COLUMN ... SET DEFAULT nextval(...)` "
                        "(new rows only) and fill the existing rows in batches"))
        if any(c.contype == enums.ConstrType.CONSTR_CHECK for c in col.constraints or ()):
            out.append((f"adding the column {col.colname} with a CHECK scans the whole table",
                        "add the column, then its CHECK `NOT VALID`, and `VALIDATE CONSTRAINT` in a later migration"))
        return out
    if cmd.subtype in (AT.AT_SetLogged, AT.AT_SetUnLogged):
        return [("SET LOGGED / SET UNLOGGED rewrites the table", REWRITE_TOOL)]
    if cmd.subtype == AT.AT_SetTableSpace:
        return [("SET TABLESPACE copies the whole table", REWRITE_TOOL)]
    if cmd.subtype == getattr(AT, "AT_SetAccessMethod", None):
        return [("SET ACCESS METHOD rewrites the table", REWRITE_TOOL)]
    return []


def set_not_null(node) -> list[tuple[str, str]]:
    """(table, column) of each `ALTER COLUMN ... SET NOT NULL` of an ALTER TABLE."""
    if not isinstance(node, ast.AlterTableStmt):
        return []
    return [(objects.name_of(node.relation), c.name) for c in node.cmds or () if c.subtype == AT.AT_SetNotNull]


def not_null_proven(forward: list[SqlFile], f: SqlFile, stmt: Stmt) -> bool:
    """Whether every SET NOT NULL of `stmt` is proven by a validated CHECK (see proven())."""
    pairs = set_not_null(stmt.node)
    return bool(pairs) and all(proven(forward, f, stmt, table, column) for table, column in pairs)


def proven(forward: list[SqlFile], f: SqlFile, stmt: Stmt, table: str, column: str) -> bool:
    """Whether a CHECK (column IS NOT NULL) on table was validated before `stmt`: added without NOT
    VALID, or VALIDATEd, in an earlier migration or earlier in this file, and not dropped since.
    (squawk only asks whether some constraint was validated earlier in the same file.)"""
    checks: dict[str, bool] = {}  # constraint name -> validated
    for g in forward:
        for s in g.statements:
            if g is f and s.start >= stmt.start:
                return any(checks.values())
            if isinstance(s.node, ast.AlterTableStmt) and objects.name_of(s.node.relation) == table:
                for cmd in s.node.cmds or ():
                    _track(cmd, column, checks)
        if g is f:
            break
    return any(checks.values())


def _track(cmd: ast.AlterTableCmd, column: str, checks: dict[str, bool]) -> None:
    if cmd.subtype == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint) and _is_not_null_check(cmd.def_,
                                                                                                         column):
        checks[cmd.def_.conname or ""] = not cmd.def_.skip_validation
    elif cmd.subtype == AT.AT_ValidateConstraint and cmd.name in checks:
        checks[cmd.name] = True
    elif cmd.subtype == AT.AT_DropConstraint:
        checks.pop(cmd.name, None)


def _is_not_null_check(c: ast.Constraint, column: str) -> bool:
    e = c.raw_expr
    return (c.contype == enums.ConstrType.CONSTR_CHECK and isinstance(e, ast.NullTest)
            and e.nulltesttype == enums.NullTestType.IS_NOT_NULL and isinstance(e.arg, ast.ColumnRef)
            and [getattr(x, "sval", None) for x in e.arg.fields][-1:] == [column])
