"""`dbtool check rls`: an audit of everything a tenant-facing role can reach, read live from the
catalog: tenant tables without enforced row-level security, relations whose tenant rows (or their
statistics) it can read without row-level security, views that show every tenant, functions that act
beyond its tenant, policies that trust a setting it can change, settings it stored on itself, pg_cron
jobs running as a superuser and roles that accept connections although they need not.

Each finding names a rule (docs/rules/<rule>.md) and the statement that fixes it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import psycopg

from .. import cron, db, errors
from ..checks import query
from ..config import Project
from ..errors import UsageError

COMMANDS = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
# What a project that declares no [tool.dbtool.rls] gets: no tenancy, so nothing to audit until it names
# its tenant column or table (and its tenant-facing roles).
DEFAULTS = {"tenant_column": None, "tenant_table": None, "app_roles": [], "context_relation": None,
            "context_function": None,
            "private_schemas": [], "reviewed_definer_functions": [],
            "role_settings_allowed": ["statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
                                      "application_name"],
            # Extensions whose VOLATILE routines tenant-facing roles may not run in any schema, except
            # pure query functions marked VOLATILE.
            "guarded_extensions": ["timescaledb"],
            "allowed_extension_functions": ["time_bucket_gapfill", "locf", "interpolate"]}


@dataclass
class Finding:
    object: str
    problem: str
    fix: str
    rule: str = "tenant-table-rls"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Audit:
    findings: list[Finding] = field(default_factory=list)
    tables_checked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return errors.FINDINGS if self.findings else 0

    def as_dict(self) -> dict:
        return {"tables_checked": self.tables_checked, "findings": [f.as_dict() for f in self.findings],
                "notes": self.notes}

    def lines(self, quiet: bool = False) -> list[str]:
        return ([f"{f.object}: {f.problem} [{f.rule}]\n    fix: {f.fix}" for f in self.findings]
                + [f"{self.tables_checked} tenant table(s) checked, {len(self.findings)} finding(s)"])

    def remarks(self) -> list[str]:
        return [f"note: {n}" for n in self.notes]


def settings(project: Project | None) -> dict:
    return {**DEFAULTS, **(project.section("rls") if project else {})}


def check_rls(url: str, project: Project | None = None) -> tuple[list[Finding], int]:
    """(findings, number of tenant tables checked)."""
    audit = run_audit(url, project)
    return audit.findings, audit.tables_checked


def run_audit(url: str, project: Project | None = None) -> Audit:
    cfg = settings(project)
    if not cfg["tenant_column"] and not cfg["tenant_table"]:
        raise UsageError("the project declares no tenancy: [tool.dbtool.rls] names no tenant_column or tenant_table",
                         hint="declare them, and the tenant-facing roles (app_roles), in [tool.dbtool.rls] "
                              "(docs/roles.md)")
    params = {"column": cfg["tenant_column"], "tenant_table": cfg["tenant_table"], "roles": list(cfg["app_roles"]),
              "private": list(cfg["private_schemas"]), "context": cfg["context_relation"],
              "function": cfg["context_function"],
              "guarded": list(cfg["guarded_extensions"]), "allowed": list(cfg["allowed_extension_functions"])}
    audit = Audit()
    with db.connection(url) as conn:
        tables = conn.execute(query("rls_tables"), params).fetchall()
        audit.tables_checked = len(tables)
        if not tables:
            audit.findings.append(_nothing_to_check(cfg))
        audit.findings += [f for row in tables for f in _table_findings(*row)]
        audit.findings += _catalog_findings(conn, cfg, params, [t[0] for t in tables])
        audit.findings += _cron_findings(url, conn, audit.notes)
    return audit


def _nothing_to_check(cfg: dict) -> Finding:
    return Finding("database", f"no table with tenant data found (no column {cfg['tenant_column']}, no "
                   f"{cfg['tenant_table']}): this is not the database you meant, or it is not migrated",
                   "check --database-url, run dbtool migrate, or set [tool.dbtool.rls] tenant_column / tenant_table",
                   "rls-nothing-checked")


def _catalog_findings(conn, cfg: dict, params: dict, tables: list[str]) -> list[Finding]:
    out = [Finding(f"function {name}", "SECURITY DEFINER without a fixed search_path",
                   f"ALTER FUNCTION {name} SET search_path = pg_catalog, <schemas it uses>", "function-search-path")
           for name, _owner in conn.execute(query("rls_search_path"))]
    out += [_readable(*row) for row in conn.execute(query("rls_readable"), params)]
    out += [f for row in conn.execute(query("rls_views"), params) for f in _view_findings(*row)]
    out += [f for row in conn.execute(query("rls_functions"), params) for f in _function_findings(cfg, *row)]
    out += [Finding(f"view {name}", f"{role} can read every tenant's statement texts",
                    f"REVOKE ALL ON {name} FROM PUBLIC, {role}", "rls-statement-texts")
            for name, role in conn.execute(query("rls_statements"), params)]
    out += [Finding(f"role {role}", f"can see or leave {what}", fix, rule)
            for role, what, fix, rule in conn.execute(query("rls_sessions"), params)]
    out += _setting_findings(conn, cfg, params)
    out += [Finding(f"role {role}", f"{why} and accepts connections (LOGIN, connection limit {limit})",
                    f"ALTER ROLE {role} NOLOGIN; or, for a role background jobs run as, "
                    f"ALTER ROLE {role} CONNECTION LIMIT 0 PASSWORD NULL", "rls-login-role")
            for role, why, limit in conn.execute(query("rls_login_roles"), params)]
    out += [Finding(f"schema {schema}", f"is declared private but {role} has USAGE on it",
                    f"REVOKE USAGE ON SCHEMA {schema} FROM {role}", "rls-private-schema")
            for schema, role in conn.execute(query("rls_private_schemas"), params)]
    out += [Finding(f"table {rel}", f"is the tenant context and {role} can "
                    + ("write it (and so choose its tenant)" if writable else "read every row of it"),
                    f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {rel} FROM {role}" if writable
                    else f"ALTER TABLE {rel} ENABLE ROW LEVEL SECURITY", "rls-forgeable-context")
            for rel, role, _enabled, writable in conn.execute(query("rls_context"), params)]
    context = cfg["context_function"] or cfg["context_relation"]
    if context and tables:
        out += [Finding(f"policy {policy} on {table}", f"does not read the verified tenant context ({context}): "
                        "its tenant comes from something the role can set itself",
                        f"recreate the policy comparing with {context} (sql/policies/)", "rls-forgeable-context")
                for table, policy in conn.execute(query("rls_policy_context"), {**params, "tables": tables})]
    return out


def _readable(relation: str, kind: str, role: str, reachable: bool) -> Finding:
    how = "can read its rows" if reachable else "sees its statistics in pg_stats (values of every tenant)"
    return Finding(f"{kind} {relation}", f"holds tenant rows without row-level security and {role} {how}",
                   f"REVOKE ALL ON {relation} FROM {role}; give it a tenant-filtered view instead",
                   "rls-readable-without-rls")


def _view_findings(view: str, roles: str, barrier: bool, filters: bool, over_unprotected: bool, over_rls: bool,
                   owner: str, owner_bypasses: bool) -> list[Finding]:
    out = []
    if over_unprotected and not filters:
        out.append(Finding(f"view {view}", f"shows rows of a relation without row-level security to {roles} "
                           "without filtering on the verified tenant", f"filter {view} on the tenant context, or "
                           f"REVOKE SELECT ON {view} FROM {roles}", "rls-view-filter"))
    if over_unprotected and not barrier:
        out.append(Finding(f"view {view}", f"is not security_barrier: a condition of {roles} can see rows "
                           "before the view's tenant filter", f"ALTER VIEW {view} SET (security_barrier = true)",
                           "rls-view-filter"))
    if over_rls and owner_bypasses:
        out.append(Finding(f"view {view}", f"reads tables with row-level security as its owner {owner}, who "
                           f"bypasses it: {roles} see every tenant", f"ALTER VIEW {view} OWNER TO <the schema owner>",
                           "rls-view-filter"))
    return out


def _function_findings(cfg: dict, function: str, roles: str, kind: str, owner: str,
                       extension: str | None) -> list[Finding]:
    if kind == "statement_texts":
        return [Finding(f"function {function}", f"{roles} can read every tenant's statement texts",
                        f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC, {roles}", "rls-statement-texts")]
    if kind == "session_texts":
        return [Finding(f"function {function}", f"{roles} can read the statements of other sessions",
                        f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC, {roles}", "rls-session-texts")]
    if kind == "extension_internal":
        return [Finding(f"function {function}", f"{roles} can execute this VOLATILE routine of extension "
                        f"{extension}, which is internal or may change or break what it is given",
                        f"REVOKE EXECUTE ON ROUTINE {function} FROM PUBLIC (as a superuser); GRANT it to {owner} "
                        "if the owner's jobs need it", "rls-extension-internal")]
    if function in cfg["reviewed_definer_functions"]:
        return []
    return [Finding(f"function {function}", f"SECURITY DEFINER (runs as {owner}) and {roles} can call it; "
                    "nobody has reviewed it", f"review it and list it in [tool.dbtool.rls] reviewed_definer_functions,"
                    f" or REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC, {roles}", "rls-definer-function")]


def _setting_findings(conn, cfg: dict, params: dict) -> list[Finding]:
    allowed = set(cfg["role_settings_allowed"])
    return [Finding(f"role {role}", f"has {assignment!r} stored for every {'later ' if not database else ''}"
                    f"connection{' to ' + database if database else ''}; a role may set its own defaults, so "
                    "the application (or SQL injected into it) may have put it there",
                    f"ALTER ROLE {role}{' IN DATABASE ' + database if database else ''} RESET {setting}; list "
                    "deliberate ones in [tool.dbtool.rls] role_settings_allowed", "rls-role-setting")
            for role, database, setting, assignment in conn.execute(query("rls_role_settings"), params)
            if setting not in allowed]


def _cron_findings(url: str, conn, notes: list[str]) -> list[Finding]:
    """pg_cron jobs of this database that run as a superuser: their commands call functions that
    owner-level roles can replace."""
    database = db.scalar(conn, "SELECT current_database()")
    try:
        with cron.connection(url, conn, database=database) as cc:
            if cc is None or not db.scalar(cc, "SELECT to_regclass('cron.job') IS NOT NULL"):
                return []
            if not db.scalar(cc, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
                notes.append("pg_cron shows a non-superuser only its own jobs: run as a superuser to audit them all")
            rows = cc.execute("""SELECT j.jobname, j.username FROM cron.job j JOIN pg_roles r ON r.rolname = j.username
                                 WHERE j.database = %s AND r.rolsuper ORDER BY 1""", [database]).fetchall()
    except (psycopg.Error, Exception) as exc:  # the cron database may be out of reach with these credentials
        notes.append(f"pg_cron jobs not audited: {getattr(exc, 'message', exc)}")
        return []
    return [Finding(f"pg_cron job {name}", f"runs as the superuser {user}: a role that can replace the function "
                    "it calls becomes a superuser", f"SELECT cron.unschedule('{name}'); then dbtool migrate "
                    "schedules it as the owner of the jobs table", "rls-superuser-job")
            for name, user in rows]


def _table_findings(table: str, via: str, enabled: bool, forced: bool, commands: list[str]) -> list[Finding]:
    out = []
    if not enabled:
        out.append(Finding(f"table {table}", f"row level security is not enabled ({via})",
                           f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
    if not forced:
        out.append(Finding(f"table {table}", f"row level security is not forced: its owner bypasses it ({via})",
                           f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"))
    if "*" not in commands:
        missing = [name for code, name in COMMANDS.items() if code not in commands]
        if missing:
            out.append(Finding(f"table {table}", f"no policy for {', '.join(missing)} that applies to the "
                               f"tenant-facing roles ({via})",
                               f"CREATE POLICY ... ON {table} FOR {missing[0]} ... (sql/policies/)"))
    return out
