"""Layer 3, function bodies: plpgsql_check on every PL/pgSQL function of the migrated schema.

sqlfluff and squawk see a function body as an opaque string, and PostgreSQL itself only checks a
PL/pgSQL body's syntax when the function is created. plpgsql_check plans every statement of every
body against the real catalog, so an unknown column or a wrong type is found before the function
runs. The extension is created inside a transaction that is rolled back: the database is left as
it was. Findings are reported in the file that defines the function (the last definition in apply
order whose body is the one in the database), at the line of the body where the problem is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from .. import db
from ..errors import DbtoolError
from . import objects
from .files import Workspace
from .model import ERROR, WARNING, Finding
from .sources import SqlFile

FUNCTIONS = r"""
SELECT p.oid::regprocedure::text AS ident, n.nspname, p.proname, p.prosrc,
       p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype AS is_trigger,
       p.prorettype = 'pg_catalog.event_trigger'::pg_catalog.regtype AS is_event_trigger,
       t.tgrelid::regclass::text AS relid, t.tgoldtable, t.tgnewtable
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
LEFT JOIN LATERAL (SELECT tgrelid, tgoldtable, tgnewtable FROM pg_catalog.pg_trigger
                   WHERE tgfoid = p.oid AND NOT tgisinternal ORDER BY tgname LIMIT 1) t ON true
WHERE l.lanname = 'plpgsql'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'dbtool') AND n.nspname !~ '^(pg_|_timescaledb)'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                  AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY 1
"""

CHECK = """
SELECT lineno, sqlstate, message, detail, hint, level
FROM plpgsql_check_function_tb(%(ident)s::regprocedure, COALESCE(%(relid)s::regclass, 0),
                               fatal_errors => false, oldtable => %(old)s, newtable => %(new)s)
"""


@dataclass
class Checked:
    findings: list[Finding]
    functions: int  # checked
    notes: list[str]
    total: int = 0  # PL/pgSQL functions in the database


def check(url: str, ws: Workspace, only: set[str] | None = None) -> Checked:
    """plpgsql_check on every PL/pgSQL function of the database, or, with `only` (the files a
    `--changed` or file-list run reports on), on those whose definition is in one of these files:
    the others' findings would not be reported, and checking them costs time."""
    notes = []
    checked = 0
    with db.connection(url) as conn, conn.transaction(force_rollback=True):  # leaves no trace
        _load_extension(conn)
        rows = conn.execute(FUNCTIONS).fetchall()
        findings = []
        for ident, schema, name, prosrc, is_trigger, is_event, relid, old, new in rows:
            where = _locate(ws, schema, name, prosrc)
            if only is not None and (where.file is None or where.file.rel not in only):
                continue
            if is_event or (is_trigger and relid is None):
                notes.append(f"{ident}: not checked (a trigger function that no trigger uses)")
                continue
            try:
                with conn.transaction():
                    result = conn.execute(CHECK, {"ident": ident, "relid": relid, "old": old, "new": new}).fetchall()
            except psycopg.Error as exc:
                notes.append(f"{ident}: plpgsql_check could not check it: {str(exc).strip().splitlines()[0]}")
                continue
            checked += 1
            if any(r[-1] == "error" for r in result):
                # a statement that fails to plan records no use of its variables and parameters,
                # so "unused" and "never read" warnings about the same function are noise
                result = [r for r in result if r[-1] != "warning extra"]
            findings += [_finding(ident, where, *r) for r in result]
    return Checked(findings, checked, notes, len(rows))


def defines_functions(ws: Workspace, rels: set[str]) -> bool:
    """Whether any of the files `rels` has a CREATE FUNCTION (read with PostgreSQL's parser)."""
    return any(isinstance(s.node, objects.ast.CreateFunctionStmt)
               for f in ws.files if f.rel in rels for s in f.statements)


def _load_extension(conn: psycopg.Connection) -> None:
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
    except psycopg.errors.UndefinedFile:
        raise DbtoolError("the server has no plpgsql_check extension",
                          hint="install it (Debian: postgresql-15-plpgsql-check; scripts/install-postgres.sh does)") from None
    except psycopg.errors.InsufficientPrivilege:
        raise DbtoolError("not allowed to create the plpgsql_check extension (it is created and rolled back)",
                          hint="lint with a superuser, or have the DBA create plpgsql_check in that database") from None


@dataclass
class Where:
    file: SqlFile | None
    body_offset: int | None  # where the body text starts in the file, when it matches the database
    stmt_line: int = 1
    stmt_col: int = 1


def _locate(ws: Workspace, schema: str, name: str, prosrc: str) -> Where:
    """The last definition of schema.name in apply order (migrations, then sql/)."""
    fallback = None
    for f in reversed([*ws.forward, *ws.repeatables]):
        for s in reversed(f.statements):
            if not (isinstance(s.node, objects.ast.CreateFunctionStmt)
                    and objects.name_of(s.node.funcname) == f"{schema}.{name}"):
                continue
            at = f.text.find(prosrc, s.start, s.end + 1) if prosrc else -1
            if at >= 0:
                return Where(f, at, s.line, s.col)
            fallback = fallback or Where(f, None, s.line, s.col)
    return fallback or Where(None, None)


def rule_id(sqlstate: str | None, message: str) -> str:
    """plpgsql/<condition> from the SQLSTATE (plpgsql/undefined-column); warnings without one
    (SQLSTATE 00000) are named after their message without the names in it (plpgsql/unused-variable)."""
    try:
        cls = psycopg.errors.lookup(sqlstate) if sqlstate and sqlstate != "00000" else None
    except KeyError:
        cls = None
    if cls is not None:
        return "plpgsql/" + re.sub(r"(?<!^)(?=[A-Z])", "-", cls.__name__).lower()
    words = re.findall(r"[a-z]+", re.sub(r'"[^"]*"', "", (message or "warning").lower()))
    return "plpgsql/" + "-".join(words[:6])


def _finding(ident: str, where: Where, lineno, sqlstate, message, detail, hint, level) -> Finding:
    text = f"{ident}: {message}" + (f" ({detail})" if detail else "")
    severity = ERROR if level == "error" else WARNING
    hint = hint or f"check it with SELECT * FROM plpgsql_check_function('{ident}')"
    rule = rule_id(sqlstate, message)
    if where.file is None:
        return Finding(f"(database) {ident}", 1, 1, severity, rule, text, hint, "bodies")
    if where.body_offset is None or not lineno:
        stale = "" if where.body_offset is not None else " [the database's body differs from this file: re-migrate]"
        return Finding(where.file.rel, where.stmt_line, where.stmt_col, severity, rule, text + stale, hint, "bodies")
    line = where.file.pos(where.body_offset)[0] + lineno - 1
    code = where.file.line_text(line)
    col = len(code) - len(code.lstrip()) + 1
    return Finding(where.file.rel, line, col, severity, rule, text, hint, "bodies")


