"""`dbtool doctor`: is this server fit for the schema? Each missing item comes with its fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import psycopg

from .. import cluster, db

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
    have = [x.strip() for x in (db.scalar(conn, "SHOW shared_preload_libraries") or "").split(",") if x.strip()]
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
    cron_db = db.scalar(conn, "SELECT current_setting('cron.database_name', true)")
    if not cron_db:
        return [Check("pg_cron", "missing", "not loaded",
                      "add pg_cron to shared_preload_libraries, set cron.database_name, restart")]
    here = db.scalar(conn, "SELECT current_database()")
    placement = "this database" if cron_db == here else f"database {cron_db!r} (jobs run here via schedule_in_database)"
    try:
        with db.connection(url, dbname=cron_db) as cc:
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
        path = "community edition: compression, retention policy and continuous aggregate"
    else:
        path = ("Apache edition: retention by pg_cron drop_chunks job, daily_activity_summary as a materialized "
                "view refreshed by pg_cron, compression unavailable")
    checks = [Check("timescaledb edition", "ok", f"{license_} — {path}")]
    taken = _path_taken(conn)
    if taken:
        want = "continuous aggregate" if license_ == "timescale" else "materialized view"
        status = "ok" if taken == want else "warn"
        checks.append(Check("time-series path taken", status, f"daily_activity_summary is a {taken}",
                            None if status == "ok" else
                            "the database was migrated on the other edition; see docs/timescaledb.md"))
    return checks


def _path_taken(conn) -> str | None:
    try:
        if db.scalar(conn, """SELECT 1 FROM timescaledb_information.continuous_aggregates
                              WHERE view_name = 'daily_activity_summary'"""):
            return "continuous aggregate"
    except psycopg.Error:
        return None
    if db.scalar(conn, "SELECT 1 FROM pg_matviews WHERE matviewname = 'daily_activity_summary'"):
        return "materialized view"
    return None


def _privileges(conn) -> list[Check]:
    r = conn.execute("""SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls,
                               has_database_privilege(current_database(), 'CREATE'),
                               to_regrole(%s) IS NOT NULL AND pg_has_role(current_user, %s, 'MEMBER')
                        FROM pg_roles WHERE rolname = current_user""", [OWNER_ROLE, OWNER_ROLE]).fetchone()
    name, superuser, createdb, createrole, bypass, create_db_priv, owner_member = r
    if superuser:
        return [Check("connecting role", "ok", f"{name}: superuser")]
    attrs = [a for a, on in (("CREATEDB", createdb), ("CREATEROLE", createrole), ("BYPASSRLS", bypass)) if on]
    checks = [Check("connecting role", "ok" if createrole and create_db_priv else "warn",
                    f"{name}: {', '.join(attrs) or 'no role attributes'}",
                    None if createrole else "the roles migration needs CREATEROLE (or run it as a superuser)")]
    checks.append(Check(f"member of {OWNER_ROLE}", "ok" if owner_member else "warn", "yes" if owner_member else "no",
                        None if owner_member else f"GRANT {OWNER_ROLE} TO {name}; (migrations SET ROLE to it)"))
    return checks


def as_dicts(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]
