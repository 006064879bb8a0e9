"""`dbtool check rls`: every table with tenant data has RLS enabled and forced, and a policy for
every command; no SECURITY DEFINER function lacks a fixed search_path; no materialized view with
tenant data is readable by a tenant-facing role."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .. import db
from ..checks import query
from ..config import Project

COMMANDS = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
DEFAULTS = {"tenant_column": "tenant_id", "tenant_table": "public.tenants",
            "app_roles": ["maplatform_app", "maplatform_readonly"]}


@dataclass
class Finding:
    object: str
    problem: str
    fix: str

    def as_dict(self) -> dict:
        return asdict(self)


def check_rls(url: str, project: Project | None = None) -> tuple[list[Finding], int]:
    """(findings, number of tenant tables checked)."""
    cfg = {**DEFAULTS, **(project.section("rls") if project else {})}
    params = {"column": cfg["tenant_column"], "tenant_table": cfg["tenant_table"], "roles": list(cfg["app_roles"])}
    with db.connection(url) as conn:
        tables = conn.execute(query("rls_tables"), params).fetchall()
        functions = conn.execute(query("rls_functions")).fetchall()
        matviews = conn.execute(query("rls_matviews"), params).fetchall()
        statements = conn.execute(query("rls_statements"), params).fetchall()
    findings = [f for row in tables for f in _table_findings(*row)]
    findings += [Finding(f"function {name}", "SECURITY DEFINER without a fixed search_path",
                         f"ALTER FUNCTION {name} SET search_path = pg_catalog, <schemas it uses>")
                 for name, _owner in functions]
    findings += [Finding(f"materialized view {name}", f"holds tenant data and {role} can read it (RLS does not apply)",
                         f"REVOKE SELECT ON {name} FROM {role}; give it a tenant-filtered view instead")
                 for name, role in matviews]
    findings += [Finding(f"view {name}", f"{role} can read every tenant's statement texts",
                         f"REVOKE ALL ON {name} FROM PUBLIC, {role}")
                 for name, role in statements]
    return findings, len(tables)


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
