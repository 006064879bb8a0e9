"""`dbtool doctor`: is this server fit for the schema? Each missing item comes with its fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import psycopg

from .. import cluster, cron, db
from ..errors import DbtoolError

REQUIRED = ["uuid-ossp", "pgcrypto", "pg_trgm", "btree_gin", "pg_stat_statements", "timescaledb", "vector"]
OWNER_ROLE = "maplatform_owner"


@dataclass
class Check:
    name: str
    status: str  # ok | warn | missing
    value: str
    fix: str | None = None


def doctor(url: str) -> list[Check]:
    with db.connection(url) as conn:
        checks = [_version(conn), _preload(conn)]
        checks += [_extension(conn, e) for e in REQUIRED]
        checks += _cron(url, conn)
        checks += _timescaledb(conn)
        checks += _privileges(conn)
    return checks


def _version(conn) -> Check:
    num = int(db.scalar(conn, "SHOW server_version_num"))
    text = db.scalar(conn, "SHOW server_version")
    return Check("server version", "ok" if num >= 150000 else "missing", text,
                 None if num >= 150000 else "the schema uses PostgreSQL 15 features (ON DELETE SET NULL (column)); upgrade")


def _preload(conn) -> Check:
    try:
        value = db.scalar(conn, "SHOW shared_preload_libraries")
    except psycopg.errors.InsufficientPrivilege:
        return Check("shared_preload_libraries", "warn", "not readable by this role",
                     "GRANT pg_read_all_settings TO <this role>; or run doctor as a superuser")
    have = [x.strip() for x in (value or "").split(",") if x.strip()]
    missing = [lib for lib in cluster.PRELOAD.split(",") if lib not in have]
    fix = None
    if missing:
        fix = (f"ALTER SYSTEM SET shared_preload_libraries = '{','.join(have + missing)}'; then restart the server")
    return Check("shared_preload_libraries", "missing" if missing else "ok", ", ".join(have) or "(empty)", fix)


def _extension(conn, name: str) -> Check:
    row = conn.execute("""SELECT a.default_version, e.extversion FROM pg_available_extensions a
                          LEFT JOIN pg_extension e ON e.extname = a.name WHERE a.name = %s""", [name]).fetchone()
    if row is None:
        return Check(f"extension {name}", "missing", "not available on this server",
                     "install its package on the server (scripts/install-postgres.sh does it on Debian)")
    available, installed = row
    if installed:
        return Check(f"extension {name}", "ok", f"installed {installed} (available {available})")
    return Check(f"extension {name}", "ok", f"available {available}, not created here yet (migrate creates it)")


def _cron(url: str, conn) -> list[Check]:
    try:
        cron_db = cron.cron_database(conn)
    except DbtoolError as exc:
        return [Check("cron.database_name", "warn", exc.message, exc.hint)]
    if not cron_db:
        return [Check("pg_cron", "missing", "not loaded",
                      "add pg_cron to shared_preload_libraries, set cron.database_name, restart")]
    here = db.scalar(conn, "SELECT current_database()")
    placement = "this database" if cron_db == here else f"database {cron_db!r} (jobs run here via schedule_in_database)"
    try:
        with cron.connection(url, conn, cron_db, here) as cc:
            version = db.scalar(cc, "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
    except Exception as exc:  # the cron database may not be reachable with these credentials
        return [Check("cron.database_name", "warn", f"{cron_db}: cannot connect ({getattr(exc, 'message', exc)})",
                      f"dbtool needs to connect to {cron_db} to schedule jobs")]
    if not version:
        return [Check("cron.database_name", "warn", f"{placement}; pg_cron not created there yet",
                      f"migrate creates it; or as a superuser: CREATE EXTENSION pg_cron in {cron_db}")]
    return [Check("cron.database_name", "ok", f"{placement}; pg_cron {version}")]


def _timescaledb(conn) -> list[Check]:
    license_ = db.scalar(conn, "SELECT current_setting('timescaledb.license', true)")
    if not license_:
        return [Check("timescaledb edition", "missing", "timescaledb not loaded",
                      "add timescaledb to shared_preload_libraries and restart")]
    if license_ == "timescale":
        path = ("community edition: retention by TimescaleDB's policy; compression and the continuous aggregate "
                "stay off, TimescaleDB refuses them on a table with row-level security (docs/timescaledb.md)")
    else:
        path = ("Apache edition: retention by a pg_cron drop_chunks job, daily_activity_summary a materialized "
                "view refreshed by pg_cron, compression unavailable")
    return [Check("timescaledb edition", "ok", f"{license_} — {path}"), *_path_taken(conn)]


def _path_taken(conn) -> list[Check]:
    """What the migrations built on this server, read live by ops.timescaledb_capabilities."""
    if not db.scalar(conn, "SELECT to_regnamespace('ops') IS NOT NULL"):
        return []  # not migrated yet
    if not db.scalar(conn, "SELECT has_schema_privilege('ops', 'USAGE')"):
        readable = False
    else:
        found = db.scalar(conn, "SELECT to_regclass('ops.timescaledb_capabilities') IS NOT NULL")
        if not found:
            return []
        readable = db.scalar(conn, "SELECT has_table_privilege('ops.timescaledb_capabilities', 'SELECT')")
    if not readable:
        return [Check("time-series path taken", "warn", "ops.timescaledb_capabilities is not readable by this role",
                      "run doctor as a member of maplatform_ops or maplatform_owner")]
    row = conn.execute("SELECT compression, retention, daily_activity_summary FROM ops.timescaledb_capabilities"
                       ).fetchone()
    if row is None:
        return [Check("time-series path taken", "warn", "activity_timeline is not a hypertable",
                      "see docs/timescaledb.md; `dbtool drift` shows what changed")]
    compression, retention, summary = row
    status = "warn" if retention == "none" else "ok"
    return [Check("time-series path taken", status,
                  f"retention: {retention}; daily_activity_summary: {summary}; compression: {compression}",
                  None if status == "ok" else "no retention is in place: re-run `dbtool migrate`, see `dbtool drift`")]


ROLES = ["maplatform_owner", "maplatform_app", "maplatform_readonly", "maplatform_ops", "maplatform_maintenance"]


def _privileges(conn) -> list[Check]:
    r = conn.execute("""SELECT rolname, rolsuper, rolcreatedb, rolbypassrls,
                               (SELECT count(*) FROM pg_roles WHERE rolname = ANY (%s)),
                               to_regrole(%s) IS NOT NULL AND pg_has_role(current_user, %s, 'MEMBER')
                        FROM pg_roles WHERE rolname = current_user""", [ROLES, OWNER_ROLE, OWNER_ROLE]).fetchone()
    name, superuser, createdb, bypass, roles_present, owner_member = r
    if superuser:
        return [Check("connecting role", "ok", f"{name}: superuser")]
    attrs = ", ".join(a for a, on in (("CREATEDB", createdb), ("BYPASSRLS", bypass)) if on) or "no role attributes"
    if roles_present < len(ROLES):
        # Only a superuser may create a BYPASSRLS role (maplatform_maintenance).
        return [Check("connecting role", "missing", f"{name}: {attrs}; the schema's roles do not exist yet",
                      "run the first migrations as a superuser, or have one create the roles of docs/roles.md")]
    return [Check("connecting role", "ok", f"{name}: {attrs}"),
            Check(f"member of {OWNER_ROLE}", "ok" if owner_member else "missing", "yes" if owner_member else "no",
                  None if owner_member else f"GRANT {OWNER_ROLE} TO {name}; (migrations SET ROLE to it)")]


def as_dicts(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]
