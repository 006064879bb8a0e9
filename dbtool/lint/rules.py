"""dbtool's own rules: the project's conventions that no general-purpose SQL linter knows.

Each rule has an id, a severity, a one-line summary, a hint and a page docs/rules/<id>.md.
Statements are read with PostgreSQL's own parser (see sources.py), never with regular expressions
over SQL, except for the file-name rules.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterator

from pglast import ast, visitors

from .. import migrations
from . import large, objects
from .files import Workspace
from .model import ERROR, WARNING, Finding, Rule
from .settings import LintConfig
from .sources import SqlFile

RULES = {r.id: r for r in [
    Rule("syntax-error", ERROR, "PostgreSQL's parser rejects the file",
         "fix the SQL at that position: the server would refuse it too"),
    Rule("migration-name", ERROR, "migration files are named NNNN_verb_object.sql",
         "rename it: four digits, then lowercase words joined by underscores (`dbtool new verb_object`)"),
    Rule("migration-number", ERROR, "two migrations share a number",
         "give the newer one the next free number"),
    Rule("migration-rollback", ERROR, "every migration has a matching, non-empty .rollback.sql",
         "write the statements that undo the migration, newest change first, in NNNN_name.rollback.sql"),
    Rule("migration-header", WARNING, "a file starts with a comment that says why it exists",
         "start the file with `-- <what>` and `-- Why: <reason>` lines"),
    Rule("migration-accept-checksum", ERROR, "a `-- dbtool-accept-checksum:` line names a sha256 and a reason, "
         "in a migration file's header",
         "write `-- dbtool-accept-checksum: <64 lowercase hex digits> because <reason>` among the -- lines before "
         "the migration file's first statement (not in its rollback file)"),
    Rule("owner-role", ERROR, "after the roles migration, files start with SET LOCAL ROLE <owner>",
         "make `SET LOCAL ROLE maplatform_owner;` the first statement so the owner role owns what it creates"),
    Rule("migration-recreates", ERROR, "a migration re-creates an object an earlier migration created",
         "change it in place (ALTER ...), or move functions and views to sql/ as repeatable files"),
    Rule("tenant-table-rls", ERROR, "a new table with a tenant column enables and forces row-level security "
         "in the same migration",
         "add `ALTER TABLE <table> ENABLE ROW LEVEL SECURITY;`, `... FORCE ROW LEVEL SECURITY;` and its policies "
         "to this migration"),
    Rule("large-table-rewrite", ERROR, "no rewrite or full scan of a table marked large, under a lock that "
         "blocks the application, that squawk does not already flag",
         "see the finding's hint for the safe pattern; docs/rules/large-table-rewrite.md lists them"),
    Rule("repeatable-name", ERROR, "repeatable files are named after their object",
         "name it sql/functions/<schema>.<name>.sql, sql/views/<schema>.<name>.sql or "
         "sql/policies/<schema>.<table>.<policy>.sql"),
    Rule("repeatable-object", ERROR, "a repeatable file defines exactly the object it is named after",
         "keep one object per file; put other objects in their own files or in a migration"),
    Rule("function-search-path", WARNING, "every function pins its search_path",
         "add `SET search_path = pg_catalog, <schemas>` to the function's definition"),
    Rule("schema-qualified", WARNING, "every table, view and function name is schema-qualified",
         "write schema.name (public.deals, app.current_tenant_id)"),
    Rule("suppression-reason", ERROR, "a suppression names its rules and gives a reason",
         "say why the rule does not apply here; see docs/rules/suppression-reason.md"),
    Rule("suppression-unused", WARNING, "a suppression matches no finding",
         "delete it, or move it next to the statement it is meant for"),
]}

MIGRATION_NAME = re.compile(r"^\d{4}_[a-z][a-z0-9]*(_[a-z0-9]+)+(\.rollback)?\.sql$")
NEW_PLACEHOLDER = "<say why"
NON_SQL_LANGUAGES = {"c", "internal"}


def finding(rule: str, f: SqlFile | str, line: int = 1, col: int = 1, message: str | None = None) -> Finding:
    r = RULES[rule]
    return Finding(f if isinstance(f, str) else f.rel, line, col, r.severity, rule, message or r.summary,
                   hint=r.hint, layer="rules")


def at(rule: str, f: SqlFile, offset: int, message: str | None = None) -> Finding:
    line, col = f.pos(offset)
    return finding(rule, f, line, col, message)


def check(ws: Workspace, cfg: LintConfig, selected: set[str]) -> list[Finding]:
    """The rules' findings in the `selected` files. Rules about one file at a time read only those
    (parsing a file costs about 2 ms, walking its tree for names more); the rules that span files
    (numbers, rollback pairs, the roles migration, objects created earlier) read the whole project."""
    narrow = ws.only(selected)
    per_file = [syntax, headers, accept_checksums, tenant_rls, repeatables, search_path, schema_qualified]
    out = []
    for fn in per_file:
        out += [f for f in fn(narrow, cfg) if cfg.active(f.rule)]
    out += [f for f in large_table_rewrite(narrow, cfg, ws.forward) if cfg.active(f.rule)]
    for fn in (names, rollbacks, recreates):
        out += [f for f in fn(ws, cfg) if f.path in selected and cfg.active(f.rule)]
    out += [f for f in owner_role(ws, cfg, selected) if f.path in selected and cfg.active(f.rule)]
    return out


def syntax(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in ws.files:
        if f.parse_error:
            offset, message = f.parse_error
            yield at("syntax-error", f, offset, message)


def names(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for rel in ws.strays:
        yield finding("migration-name", rel, message="dbtool migrations are pure SQL files, not Python")
    by_number = defaultdict(list)
    for f in [*ws.forward, *ws.rollbacks.values()]:
        if not MIGRATION_NAME.match(f.path.name):
            yield finding("migration-name", f, message=f"{f.path.name} is not NNNN_verb_object.sql")
    for f in ws.forward:
        by_number[f.path.name.split("_")[0]].append(f)
    for files in by_number.values():
        for f in files[1:]:
            yield finding("migration-number", f, message=f"{f.path.name} has the number of {files[0].path.name}")


def rollbacks(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    ids = {f.path.name[:-4] for f in ws.forward}
    for f in ws.forward:
        rb = ws.rollbacks.get(f.path.name[:-4])
        if rb is None:
            yield finding("migration-rollback", f, message=f"no rollback file {f.path.name[:-4]}.rollback.sql")
        elif not rb.statements and not rb.parse_error:
            yield finding("migration-rollback", rb, message="the rollback file has no SQL statements")
    for mid, rb in ws.rollbacks.items():
        if mid not in ids:
            yield finding("migration-rollback", rb, message=f"rollback file without a migration {mid}.sql")


def headers(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in [*ws.forward, *ws.rollbacks.values(), *ws.repeatables]:
        comment = f.leading_comment()
        prose = [ln for ln in comment.splitlines()
                 if ln.strip().startswith(("--", "/*", "*")) and not re.match(r"\s*--\s*(depends|transactional)\s*:", ln)
                 and not migrations.is_accept_line(ln) and "dbtool-lint:" not in ln and re.search(r"[A-Za-z]{3}", ln)]
        if not prose:
            yield finding("migration-header", f, message="no header comment before the first statement")
        elif NEW_PLACEHOLDER in comment:
            line = comment[: comment.index(NEW_PLACEHOLDER)].count("\n") + 1
            yield finding("migration-header", f, line, 1, message="the header still has `dbtool new`'s placeholder")


def accept_checksums(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    """What `dbtool migrate` would refuse in a migration's accept-checksum lines (the same reader),
    and such lines where dbtool never reads them."""
    for f in ws.forward:
        for a in migrations.accept_lines(f.text):
            if a.problem:
                yield finding("migration-accept-checksum", f, a.line, 1, message=a.problem)
    for f in [*ws.rollbacks.values(), *ws.repeatables, *ws.other]:
        for a in migrations.accept_lines(f.text):
            yield finding("migration-accept-checksum", f, a.line, 1,
                          message=f"`-- {migrations.ACCEPT_DIRECTIVE}:` means nothing here: only a migration file's "
                                  "header accepts old checksums (of that file)")


def _sets_owner(f: SqlFile, owner: str) -> bool:
    first = f.statements[0].node if f.statements else None
    return (isinstance(first, ast.VariableSetStmt) and first.name == "role" and bool(first.is_local)
            and bool(first.args) and getattr(first.args[0].val, "sval", None) == owner)


def owner_role(ws: Workspace, cfg: LintConfig, selected: set[str] | None = None) -> Iterator[Finding]:
    # The roles migration: CREATE ROLE and the owner's name in one file, so that a role created by
    # EXECUTE format('CREATE ROLE %I', ...) from a list of names counts as well.
    owner = re.compile(rf"\b{re.escape(cfg.owner_role)}\b")
    roles_at = next((i for i, f in enumerate(ws.forward)
                     if re.search(r"\bCREATE\s+ROLE\b", f.text, re.I) and owner.search(f.text)), None)
    if roles_at is None:
        return
    later = [f for f in ws.forward[roles_at + 1:] if ws.transactional(f)]
    files = later + [ws.rollbacks[f.path.name[:-4]] for f in later if f.path.name[:-4] in ws.rollbacks]
    for f in files + ws.repeatables:
        if selected is not None and f.rel not in selected:
            continue
        if f.statements and not _sets_owner(f, cfg.owner_role):
            s = f.statements[0]
            yield finding("owner-role", f, s.line, s.col,
                          message=f"the first statement is not SET LOCAL ROLE {cfg.owner_role}")


def recreates(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    created: dict[tuple[str, str], str] = {}  # key -> migration that created it
    for f in ws.forward:
        made = [(key, label, s) for s in f.statements for key, label in objects.created(s.node)]
        for key, label, s in made:
            if key in created and created[key] != f.rel:
                yield finding("migration-recreates", f, s.line, s.col,
                              message=f"re-creates {label}, which {created[key]} created")
        for s in f.statements:
            for drop in objects.dropped(s.node):
                for key in [k for k in created if objects.matches(k, drop)]:
                    del created[key]
        for key, _, _ in made:
            created.setdefault(key, f.rel)


def _rls_changes(f: SqlFile, subtype) -> set[str]:
    return {objects.name_of(s.node.relation) for s in f.statements if isinstance(s.node, ast.AlterTableStmt)
            and any(getattr(c, "subtype", None) == subtype for c in s.node.cmds or ())}


def tenant_rls(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    kinds = objects.enums.AlterTableType
    for f in ws.forward:
        enabled = _rls_changes(f, kinds.AT_EnableRowSecurity)
        forced = _rls_changes(f, kinds.AT_ForceRowSecurity)
        for s in f.statements:
            if not isinstance(s.node, ast.CreateStmt):
                continue
            cols = {e.colname for e in s.node.tableElts or () if isinstance(e, ast.ColumnDef)}
            table = objects.name_of(s.node.relation)
            missing = [w for w, done in (("enable", enabled), ("force", forced)) if table not in done]
            if cfg.tenant_column in cols and missing:
                yield at("tenant-table-rls", f, s.node.relation.location or s.start,
                         f"table {table} has a {cfg.tenant_column} column but this migration does not "
                         f"{' and '.join(missing)} row-level security on it")


def large_table_rewrite(ws: Workspace, cfg: LintConfig, all_forward: list[SqlFile]) -> Iterator[Finding]:
    """What squawk does not flag that rewrites or scans a large table under ACCESS EXCLUSIVE, and
    SET NOT NULL there without a validated CHECK in `all_forward`, the migrations before (large.py).
    A table created earlier in the same file is new and empty, so not large yet."""
    if not cfg.large_tables:
        return
    for f in ws.forward:
        made: set[str] = set()
        for s in f.statements:
            found = large.rewrites(s.node) + [
                (table, f"SET NOT NULL on {column} scans the whole table: no validated CHECK ({column} IS NOT "
                 "NULL) precedes it", large.CHECK_FIRST)
                for table, column in large.set_not_null(s.node) if not large.proven(all_forward, f, s, table, column)]
            for table, what, pattern in found:
                if large.is_large(cfg, table) and table not in made:
                    yield Finding(f.rel, s.line, s.col, ERROR, "large-table-rewrite",
                                  f"{what}; {table} is in large_tables: every query on it waits that long",
                                  hint=pattern, layer="rules")
            made |= {key[1] for key, _ in objects.created(s.node) if key[0] == "relation"}


REPEATABLE_SHAPES = {"functions": 2, "views": 2, "policies": 3}
NEUTRAL = (ast.VariableSetStmt, ast.CommentStmt, ast.GrantStmt, ast.AlterOwnerStmt)


def repeatables(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in ws.repeatables:
        kind = f.path.parent.name if f.path.parent.parent == ws.sql_dir else None
        parts = f.path.name[:-4].split(".")
        if kind not in REPEATABLE_SHAPES or len(parts) != REPEATABLE_SHAPES[kind]:
            yield finding("repeatable-name", f, message=f"{f.rel} is not named like "
                          "sql/{functions,views}/<schema>.<name>.sql or sql/policies/<schema>.<table>.<policy>.sql")
            continue
        yield from _one_object(f, kind, parts)


def _defines(node, kind: str, parts: list[str]) -> bool | None:
    """True: defines the named object; False: another object; None: neither (neutral or other)."""
    if kind == "functions" and isinstance(node, ast.CreateFunctionStmt):
        return objects.name_of(node.funcname, None) == ".".join(parts)
    if kind == "views" and isinstance(node, ast.ViewStmt):
        return objects.name_of(node.view, None) == ".".join(parts)
    if kind == "views" and isinstance(node, ast.CreateTableAsStmt):
        return objects.name_of(node.into.rel, None) == ".".join(parts)
    if kind == "policies" and isinstance(node, (ast.CreatePolicyStmt, ast.AlterPolicyStmt)):
        return objects.name_of(node.table, None) == ".".join(parts[:2]) and node.policy_name == parts[2]
    return None


def _one_object(f: SqlFile, kind: str, parts: list[str]) -> Iterator[Finding]:
    want = {"functions": "function", "views": "view", "policies": "policy"}[kind] + " " + ".".join(parts)
    found = False
    for s in f.statements:
        verdict = _defines(s.node, kind, parts)
        found |= verdict is True
        if verdict is False or (verdict is None and not isinstance(s.node, NEUTRAL) and not _drops_own(s.node, kind)):
            yield finding("repeatable-object", f, s.line, s.col,
                          message=f"{s.kind} here: the file is named after {want} and may define only it")
    if f.statements and not found:
        yield finding("repeatable-object", f, message=f"the file does not define {want}")


def _drops_own(node, kind: str) -> bool:
    """`DROP ... IF EXISTS` before a CREATE is allowed (its target is checked by the CREATE)."""
    return isinstance(node, ast.DropStmt) or (kind == "functions" and isinstance(node, ast.AlterFunctionStmt))


def search_path(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in ws.files:
        for s in f.statements:
            if not isinstance(s.node, ast.CreateFunctionStmt):
                continue
            opts = {o.defname: o.arg for o in s.node.options or ()}
            lang = getattr(opts.get("language"), "sval", "sql")
            sets = [o.arg for o in s.node.options or () if o.defname == "set"]
            if lang not in NON_SQL_LANGUAGES and not any(v.name == "search_path" for v in sets):
                yield finding("function-search-path", f, s.line, s.col,
                              message=f"function {objects.name_of(s.node.funcname, None)} does not SET search_path")


class _Unqualified(visitors.Visitor):
    """Every relation named without a schema, except references to the statement's own CTEs."""

    def __init__(self):
        super().__init__()
        self.ctes: set[str] = set()
        self.hits: list[ast.RangeVar] = []

    def visit_CommonTableExpr(self, ancestors, node):
        self.ctes.add(node.ctename)

    def visit_RangeVar(self, ancestors, node):
        if not node.schemaname:
            self.hits.append(node)


def schema_qualified(ws: Workspace, cfg: LintConfig) -> Iterator[Finding]:
    for f in ws.files:
        for s in f.statements:
            v = _Unqualified()
            v(s.node)
            for rv in v.hits:
                if rv.relname not in v.ctes:
                    yield at("schema-qualified", f, rv.location if rv.location is not None else s.start,
                             f"{rv.relname} is not schema-qualified")
            for names, what in _routine_names(s.node):
                if len(names) < 2:
                    yield finding("schema-qualified", f, s.line, s.col, f"{what} {names[-1].sval} is not schema-qualified")


def _routine_names(node):
    if isinstance(node, ast.CreateFunctionStmt):
        yield node.funcname, "function"
    elif isinstance(node, ast.CreateTrigStmt):
        yield node.funcname, "trigger function"
    elif isinstance(node, ast.DropStmt) and node.removeType in objects.FUNCTION_DROPS:
        for obj in node.objects or ():
            yield obj.objname, "function"
    elif isinstance(node, ast.DropStmt) and node.removeType in objects.RELATION_DROPS:
        for obj in node.objects or ():
            yield obj, "relation"
