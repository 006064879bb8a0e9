"""Repeatable objects under sql/: one function, policy or view per file, re-applied when changed.

File names say which object a file defines, so dbtool can check that it exists and drop it when
its file is removed: sql/functions/<schema>.<name>.sql, sql/views/<schema>.<name>.sql,
sql/policies/<schema>.<table>.<policy>.sql.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from . import db, migrations
from .errors import DbtoolError
from .ledger import SCHEMA

KINDS = ("functions", "policies", "views")  # apply order: policies and views call functions
# Errors that mean "what this object needs is created by a migration not applied yet".
# 22023 is what `SET LOCAL ROLE <owner role>` raises when the roles migration is rolled back;
# 42501 what CREATE raises when the role still exists (roles are cluster-wide) but the migration
# granting it CREATE in this database is not applied. At head (strict) both still fail the run.
MISSING_DEPENDENCY = {"42P01", "42883", "42704", "3F000", "42703", "42P02", "22023", "42501"}


@dataclass
class Repeatable:
    path: Path
    rel: str
    kind: str
    schema: str
    name: str
    table: str | None
    text: str
    checksum: str

    @property
    def label(self) -> str:
        if self.kind == "policies":
            return f"policy {self.name} on {self.schema}.{self.table}"
        return f"{self.kind[:-1]} {self.schema}.{self.name}"


def read(sql_dir: Path, root: Path) -> list[Repeatable]:
    out = []
    for kind in KINDS:
        folder = sql_dir / kind
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.sql")):
            parts = path.stem.split(".")
            want = 3 if kind == "policies" else 2
            if len(parts) != want:
                shape = "<schema>.<table>.<policy>.sql" if kind == "policies" else "<schema>.<name>.sql"
                raise DbtoolError(f"{migrations.rel(path, root)}: repeatable files are named {shape}",
                                  hint="name the file after the one object it defines")
            text = migrations.read_text(path, root)
            out.append(Repeatable(path=path, rel=migrations.rel(path, root), kind=kind, schema=parts[0],
                                  name=parts[-1], table=parts[1] if kind == "policies" else None,
                                  text=text, checksum=migrations.checksum(text)))
    return out


def recorded(conn: psycopg.Connection) -> dict[str, tuple[str, str, str]]:
    """path -> (kind, identity, checksum) of what was applied."""
    if not db.scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", [f"{SCHEMA}.repeatables"]):
        return {}
    return {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
        f"SELECT path, kind, identity, checksum FROM {SCHEMA}.repeatables").fetchall()}


def identities(conn: psycopg.Connection, r: Repeatable) -> list[str]:
    """How the catalog names the object(s) a file defines; empty when it does not exist."""
    if r.kind == "functions":
        return [row[0] for row in conn.execute(
            """SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = %s AND p.proname = %s ORDER BY 1""", [r.schema, r.name]).fetchall()]
    if r.kind == "views":
        found = db.scalar(conn, "SELECT to_regclass(%s)::text", [f'"{r.schema}"."{r.name}"'])
        return [found] if found else []
    found = db.scalar(conn, """SELECT format('%%I ON %%s', polname, polrelid::regclass) FROM pg_policy
                               WHERE polname = %s AND polrelid = to_regclass(%s)""",
                      [r.name, f'"{r.schema}"."{r.table}"'])
    return [found] if found else []


def exists(conn: psycopg.Connection, kind: str, identity: str) -> bool:
    if kind == "functions":
        # Not to_regprocedure: on PostgreSQL < 16 it raises when an argument type is gone (a rollback
        # that dropped the extension defining it), instead of returning NULL.
        return all(db.scalar(conn, """SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc
                                      WHERE proname = %s AND oid::regprocedure::text = %s)""",
                             [i.split("(", 1)[0].rsplit(".", 1)[-1].strip('"'), i]) for i in identity.split(";"))
    if kind == "views":
        return bool(db.scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", [identity]))
    name, _, table = identity.partition(" ON ")
    return bool(db.scalar(conn, """SELECT EXISTS (SELECT 1 FROM pg_policy WHERE polname = %s
                                   AND polrelid = to_regclass(%s))""", [name.strip('"'), table]))


def drop_statement(kind: str, identity: str) -> list[str]:
    if kind == "functions":
        return [f"DROP FUNCTION IF EXISTS {i}" for i in identity.split(";")]
    if kind == "views":
        return [f"DROP VIEW IF EXISTS {identity}"]
    return [f"DROP POLICY IF EXISTS {identity}"]


@dataclass
class Plan:
    apply: list[Repeatable]
    drop: list[tuple[str, str, str]]  # (path, kind, identity) whose file is gone
    reasons: dict[str, str]  # path -> new | changed | missing (its object is gone from the catalog)


def plan(conn: psycopg.Connection, files: list[Repeatable]) -> Plan:
    """What to re-apply: new files, changed files, and files whose object is gone from the catalog."""
    done = recorded(conn)
    todo, reasons = [], {}
    for r in files:
        rec = done.get(r.rel)
        reason = ("new" if rec is None else "changed" if rec[2] != r.checksum
                  else "missing" if not exists(conn, rec[0], rec[1]) else None)
        if reason:
            todo.append(r)
            reasons[r.rel] = reason
    present = {r.rel for r in files}
    gone = [(p, k, i) for p, (k, i, _) in sorted(done.items()) if p not in present]
    return Plan(apply=todo, drop=gone, reasons=reasons)


def apply(conn: psycopg.Connection, plan_: Plan, *, strict: bool, run) -> tuple[list[Repeatable], list[tuple]]:
    """Apply a plan in the caller's transaction. Files whose dependencies are missing are retried
    after the others (a view over a view), and, unless `strict`, left pending when a later migration
    will create what they need. `run(stmt_list, repeatable)` executes one file's statements.
    Returns (applied, pending) where pending holds (repeatable, error)."""
    for path, kind, identity in plan_.drop:
        for stmt in drop_statement(kind, identity):
            conn.execute(stmt)
        conn.execute(f"DELETE FROM {SCHEMA}.repeatables WHERE path = %s", [path])
    waiting, applied = list(plan_.apply), []
    while waiting:
        retry = []
        for r in waiting:
            try:
                with conn.transaction():
                    run(r)
                    conn.execute("RESET ROLE")
                    ids = identities(conn, r)
                    if not ids:
                        raise DbtoolError(f"{r.rel}: the file ran but defines no {r.label}",
                                          hint="a repeatable file defines exactly the object it is named after")
                    conn.execute(sql.SQL(
                        """INSERT INTO {}.repeatables (path, kind, identity, checksum) VALUES (%s, %s, %s, %s)
                           ON CONFLICT (path) DO UPDATE SET identity = EXCLUDED.identity,
                             checksum = EXCLUDED.checksum, applied_at = clock_timestamp()""").format(
                        sql.Identifier(SCHEMA)), [r.rel, r.kind, ";".join(ids), r.checksum])
                applied.append(r)
            except RepeatableError as exc:
                if exc.sqlstate not in MISSING_DEPENDENCY:
                    raise exc.error from None
                retry.append((r, exc.error))
        if len(retry) == len(waiting):
            if strict:
                raise retry[0][1]
            for r, _ in retry:
                conn.execute(f"DELETE FROM {SCHEMA}.repeatables WHERE path = %s", [r.rel])
            return applied, retry
        waiting = [r for r, _ in retry]
    return applied, []


class RepeatableError(DbtoolError):
    """A repeatable file failed on the server: the DbtoolError to report, with its SQLSTATE, which
    tells a file waiting for a later migration (MISSING_DEPENDENCY) from a broken one."""

    def __init__(self, sqlstate: str, error: DbtoolError):
        super().__init__(error.message, hint=error.hint, exit_code=error.exit_code, detail=error.detail)
        self.sqlstate = sqlstate
        self.error = error
