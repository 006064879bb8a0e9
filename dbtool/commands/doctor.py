"""`dbtool doctor`: is this server fit for the schema? Each missing item comes with its fix.

Besides the server's make-up (version, preload, extensions, pg_cron placement, TimescaleDB edition,
the connecting role), doctor reads what keeps the scheduled work running: pg_cron's settings and who
its jobs run as, the role the jobs start as, the health of TimescaleDB's jobs on the project's
hypertables and whether their work is done, and whether the database's migrations reached the project's head.
On a primary it lists its standbys and replication slots; on a standby, its replay delay and the settings that
decide what a migration's lock does to reads there (dbtool.replica, docs/replicas.md).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from .. import citus, config, cron, db, ledger, migrations, replica
from ..checks import Check, timescale_jobs
from ..config import Project
from ..errors import FINDINGS, DbtoolError, UsageError
from ..output import label


@dataclass(frozen=True)
class Needs:
    """What the project says its schema needs of the server ([tool.dbtool] extensions, preload, roles,
    owner_role, cron_table, [tool.dbtool.timescaledb]); outside a project, nothing: doctor then reads
    only what the server has (every hypertable of the database, no capabilities view)."""

    extensions: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    owner: str = ""
    cron_table: str = cron.DEFAULT_TABLE
    hypertables: tuple[str, ...] | None = None  # None: every hypertable of the database
    capabilities: str = ""  # the view of the path the migrations took on this server's edition
    editions: dict = field(default_factory=dict)  # timescaledb.license -> what the migrations do on that edition
    community: dict = field(default_factory=dict)  # its column -> (what it says on the community edition, fix)
    community_since: str = ""  # the migration after which the community edition must show `community`

    @classmethod
    def of(cls, project: Project | None) -> "Needs":
        if project is None:
            return cls()
        ts = project.section("timescaledb")
        return cls(tuple(project.names("extensions")), tuple(project.names("preload")),
                   tuple(project.names("roles")), project.get("owner_role"), cron.table_of(project),
                   tuple(_tables(ts)), _text(ts, "capabilities"), _editions(ts), *_community(ts))


def _tables(section: dict) -> list[str]:
    value = section.get("hypertables", [])
    if not isinstance(value, list) or not all(isinstance(v, str) and "." in v for v in value):
        raise UsageError("[tool.dbtool.timescaledb] hypertables must be a list of schema.table names")
    return value


def _text(section: dict, key: str) -> str:
    value = section.get(key, "")
    if not isinstance(value, str):
        raise UsageError(f"[tool.dbtool.timescaledb] {key} must be a string")
    return value


def _editions(section: dict) -> dict[str, str]:
    value = section.get("editions", {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise UsageError('[tool.dbtool.timescaledb] editions must be a table like {apache = "...", timescale = "..."}')
    return value


def _community(section: dict) -> tuple[dict[str, tuple[str, str]], str]:
    """[tool.dbtool.timescaledb.community]: since = "NNNN" and column = {want = "...", fix = "..."}, in the
    order doctor shows them."""
    spec = dict(section.get("community", {}))
    since = spec.pop("since", "")
    out = {}
    for column, entry in spec.items():
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("want", "fix")):
            raise UsageError(f'[tool.dbtool.timescaledb.community] {column} must be {{want = "...", fix = "..."}}')
        out[column] = (entry["want"], entry["fix"])
    if not isinstance(since, str):
        raise UsageError("[tool.dbtool.timescaledb.community] since must be a migration number, like \"0018\"")
    return out, since


def doctor(url: str, project: Project | None = None) -> list[Check]:
    """Every check, in a fixed order. With `project`, also what it needs of the server and whether its
    migrations are all applied. pg_cron's and TimescaleDB's checks run where the project uses them
    (outside a project: where the server loads them)."""
    needs = Needs.of(project)
    with db.connection(url) as conn:
        loaded = _loaded(conn)
        checks = [_version(conn), _tls(conn), _preload(loaded, needs.preload)]
        checks += citus.checks(conn, project)
        checks += replica.checks(conn)
        checks += [_extension(conn, e) for e in needs.extensions]
        # A project says what it uses; outside one, what the server loads is what there is to check.
        uses = set(needs.preload + needs.extensions) if project is not None else set(loaded or [])
        hypertables = _hypertables(conn, needs) if "timescaledb" in uses else []
        if "pg_cron" in uses:
            checks += _cron(url, conn, needs)
        checks += _job_roles(conn, needs.cron_table, hypertables)
        if "timescaledb" in uses:
            checks += _timescaledb(conn, needs, hypertables)
        if "pgaudit" in needs.preload:
            checks += [_audit_log(conn), _object_audit(conn)]
        checks += _privileges(conn, needs)
        if project is not None:
            checks += _migrations(conn, project)
    return checks


def _audit_log(conn) -> Check:
    """pgaudit's session log of schema and role changes (migration 0022 sets it on the database). A
    database made from a template, or restored from pg_dump, does not carry a database's settings."""
    value = db.scalar(conn, "SELECT current_setting('pgaudit.log', true)") or ""
    have = {v.strip().lower() for v in value.split(",")}
    if {"ddl", "role"} <= have or "all" in have:
        return Check("audit log", "ok", f"pgaudit.log = {value}: schema and role changes go to the server log")
    here = db.scalar(conn, "SELECT current_database()")
    return Check("audit log", "missing", f"pgaudit.log = {value or 'none'}: schema and role changes are not logged",
                 f"ALTER DATABASE {here} SET pgaudit.log = 'ddl, role' (what migration 0022 does; a copy made from a "
                 "template or by pg_dump loses it), or set it in postgresql.conf for the whole server (docs/audit.md)")


def _object_audit(conn) -> Check:
    """pgaudit's object audit: statements on the relations pgaudit.role holds privileges on are logged.
    Unset, only session logging is left; a copy made from a template or by pg_dump loses it too."""
    role = db.scalar(conn, "SELECT current_setting('pgaudit.role', true)") or ""
    if not role:
        here = db.scalar(conn, "SELECT current_database()")
        return Check("object audit", "warn", "pgaudit.role is not set: no table's reads and writes are logged",
                     f"ALTER DATABASE {here} SET pgaudit.role = '<the auditor role>', as the migrations set it "
                     "(docs/audit.md)")
    if not db.scalar(conn, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", [role]):
        return Check("object audit", "warn", f"pgaudit.role = {role}, a role that does not exist: nothing is logged "
                     "by object", f"create the role, or point pgaudit.role at the auditor role (docs/audit.md)")
    # Granted to the role itself: what it reaches through PUBLIC is logged too, but is nobody's choice.
    tables = db.scalar(conn, """SELECT count(DISTINCT c.oid) FROM pg_catalog.pg_class AS c,
                                     pg_catalog.aclexplode(c.relacl) AS a
                                WHERE a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s)""", [role])
    return Check("object audit", "ok", f"pgaudit.role = {role}: reads and writes of the {tables} table(s) it holds "
                 "privileges on go to the server log")


def _loaded(conn) -> list[str] | None:
    """shared_preload_libraries, read once for every check that asks; None when this role may not read it."""
    try:
        value = db.scalar(conn, "SHOW shared_preload_libraries")
    except psycopg.errors.InsufficientPrivilege:
        return None
    return [x.strip() for x in (value or "").split(",") if x.strip()]


def _version(conn) -> Check:
    num = int(db.scalar(conn, "SHOW server_version_num"))
    text = db.scalar(conn, "SHOW server_version")
    return Check("server version", "ok" if num >= 150000 else "missing", text,
                 None if num >= 150000 else "the schema uses PostgreSQL 15 features (ON DELETE SET NULL (column)); upgrade")


REQUIRE_TLS = ("in pg_hba.conf, hostssl lines (scram-sha-256) for the clients and a hostnossl all all 0.0.0.0/0 "
               "reject line; in the URL, sslmode=verify-full and sslrootcert=<your CA's certificate> (docs/tls.md)")


def _tls(conn) -> Check:
    """Is this connection encrypted, and does the server offer TLS at all? A connection over a Unix
    socket never leaves the machine: there is nothing to encrypt in transit."""
    server = db.scalar(conn, "SHOW ssl")
    if db.scalar(conn, "SELECT inet_server_addr() IS NULL"):
        return Check("tls", "ok", f"a Unix-socket connection: local, nothing to encrypt (server ssl = {server})")
    mode = conn.info.get_parameters().get("sslmode", "prefer")  # libpq's default when the URL names none
    if conn.pgconn.ssl_in_use:  # libpq's word, which every role has
        unchecked = ("" if mode == "verify-full" else
                     f"; sslmode={mode} does not check the server's name and certificate")
        return Check("tls", "ok", f"this connection is encrypted{_tls_version(conn)}{unchecked}")
    if server != "on":
        return Check("tls", "warn", "this TCP connection is not encrypted: the server has TLS off (ssl = off)",
                     "ssl = on with ssl_cert_file and ssl_key_file from your CA (a reload applies it); then "
                     + REQUIRE_TLS)
    return Check("tls", "warn", f"this TCP connection is not encrypted: the server offers TLS, the client did not "
                                f"ask for it (sslmode={mode})", REQUIRE_TLS)


def _tls_version(conn) -> str:
    """': TLSv1.3, TLS_AES_256_GCM_SHA384', read from pg_stat_ssl; nothing for a role that may not read
    it (migration 0016 takes pg_stat_get_activity, under the view, from PUBLIC)."""
    try:
        row = conn.execute("SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    except psycopg.errors.InsufficientPrivilege:
        return ""
    return f": {row[0]}, {row[1]}" if row else ""


def _preload(have: list[str] | None, wanted: tuple[str, ...]) -> Check:
    if have is None:
        return Check("shared_preload_libraries", "warn", "not readable by this role",
                     "GRANT pg_read_all_settings TO <this role>; or run doctor as a superuser")
    missing = [lib for lib in wanted if lib not in have]
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


# ----- pg_cron ----------------------------------------------------------------------------------


def _setting(conn, name: str) -> tuple[bool, str | None]:
    """(readable, value): current_setting(name, true), which is NULL for a setting nobody defined
    and an error for a superuser-only one (pg_cron's) that this role may not read."""
    try:
        return True, db.scalar(conn, "SELECT current_setting(%s, true)", [name])
    except psycopg.errors.InsufficientPrivilege:
        return False, None


def _unreadable(conn, name: str) -> Check:
    user = db.scalar(conn, "SELECT current_user")
    return Check(name, "warn", "not readable by this role",
                 f"as a superuser: GRANT pg_read_all_settings TO {user}; or run doctor as a superuser")


def _cron(url: str, conn, needs: Needs) -> list[Check]:
    try:
        cron_db = cron.cron_database(conn)
    except DbtoolError as exc:
        return [Check("cron.database_name", "warn", exc.message, exc.hint), *_cron_settings(conn, needs)]
    if not cron_db:
        return [Check("pg_cron", "missing", "not loaded",
                      "add pg_cron to shared_preload_libraries, set cron.database_name, restart")]
    checks = _cron_settings(conn, needs)
    here = db.scalar(conn, "SELECT current_database()")
    placement = "this database" if cron_db == here else f"database {cron_db!r} (jobs run here via schedule_in_database)"
    try:
        with cron.connection(url, conn, cron_db, here) as cc:
            version = db.scalar(cc, "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
            if not version:
                return [*checks, Check("cron.database_name", "warn", f"{placement}; pg_cron not created there yet",
                                       f"migrate creates it; or as a superuser: CREATE EXTENSION pg_cron in {cron_db}")]
            checks.append(Check("cron.database_name", "ok", f"{placement}; pg_cron {version}"))
            try:
                checks += _cron_jobs(conn, cc, cron_db, here, needs.cron_table)
            except psycopg.Error as exc:
                checks.append(Check("cron jobs", "warn", f"cannot read cron.job in {cron_db}: "
                                                         f"{db.server_error(exc).message}", None))
    except (DbtoolError, psycopg.Error) as exc:  # the cron database may not be reachable with these credentials
        message = exc.message if isinstance(exc, DbtoolError) else db.server_error(exc).message
        return [*checks, Check("cron.database_name", "warn", f"{cron_db}: cannot connect ({message})",
                               f"dbtool needs to connect to {cron_db} to schedule jobs")]
    return checks


def _owner_of(conn, name: str, kinds: str = "rvmp") -> str | None:
    """The owner of the relation schema.name of one of `kinds` (pg_class.relkind), also for a role
    without USAGE on its schema (which to_regclass refuses)."""
    if "." not in name:
        return None
    return db.scalar(conn, """SELECT pg_get_userbyid(c.relowner) FROM pg_class c
                              JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE n.nspname = %s AND c.relname = %s AND strpos(%s, c.relkind::text) > 0""",
                     [*name.split(".", 1), kinds])


def _jobs_table_owner(conn, table: str) -> str | None:
    """cron.job_role, also for a role without USAGE on the cron table's schema."""
    try:
        return cron.job_role(conn, table)
    except psycopg.errors.InsufficientPrivilege:
        return _owner_of(conn, table)


def _job_role_limits(conn, needs: Needs) -> tuple[str | None, tuple | None]:
    """The role pg_cron's jobs run as (the owner of the cron table; the project's owner role before the
    table exists, None outside a project) and its (rolcanlogin, rolconnlimit), None when the role does
    not exist yet."""
    role = _jobs_table_owner(conn, needs.cron_table) or needs.owner or None
    row = conn.execute("SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = %s", [role]).fetchone()
    return role, row


def _cron_settings(conn, needs: Needs) -> list[Check]:
    """cron.use_background_workers, cron.enable_superuser_jobs and the worker budget they need."""
    role, limits = _job_role_limits(conn, needs)
    checks = []
    readable, workers = _setting(conn, "cron.use_background_workers")
    if not readable:
        checks.append(_unreadable(conn, "cron.use_background_workers"))
    elif workers == "on":
        how = f"as {role}, which its CONNECTION LIMIT 0" if role else ", which their role's CONNECTION LIMIT 0"
        checks.append(Check("cron.use_background_workers", "ok", f"on: jobs run in background workers {how} "
                                                                 "does not stop"))
    else:
        refused = limits is None or limits[1] == 0
        why = ("pg_cron connects through libpq as the jobs' role, which a CONNECTION LIMIT 0 refuses: every job "
               "fails then" if role is None else
               f"pg_cron connects through libpq as {role}, and {role}'s CONNECTION LIMIT 0 (migration 0016) refuses "
               "that connection: every job fails" if refused else
               f"pg_cron connects through libpq as {role}, which works only while {role} accepts client "
               "connections, and it must not (see the job role check)")
        checks.append(Check("cron.use_background_workers", "missing" if refused else "warn",
                            f"{workers or 'off'}: {why}",
                            "ALTER SYSTEM SET cron.use_background_workers = on; then restart the server "
                            "(max_worker_processes must leave room for cron.max_running_jobs job workers)"))
    readable, superuser_jobs = _setting(conn, "cron.enable_superuser_jobs")
    if not readable:
        checks.append(_unreadable(conn, "cron.enable_superuser_jobs"))
    elif superuser_jobs == "off":
        checks.append(Check("cron.enable_superuser_jobs", "ok", "off: pg_cron runs no job as a superuser"))
    else:
        checks.append(Check("cron.enable_superuser_jobs", "warn",
                            f"{superuser_jobs or 'on'}: pg_cron would run a job scheduled as a superuser"
                            + (f"; this schema's jobs run as {role}" if role else ""),
                            "ALTER SYSTEM SET cron.enable_superuser_jobs = off; then restart the server"))
    if workers == "on":
        checks += _worker_budget(conn)
    return checks


def _worker_budget(conn) -> list[Check]:
    """max_worker_processes against what pg_cron (launcher + cron.max_running_jobs job workers) and
    TimescaleDB (launcher + timescaledb.max_background_workers) may start."""
    readable, running = _setting(conn, "cron.max_running_jobs")
    if not readable or running is None:
        return []
    have = int(db.scalar(conn, "SHOW max_worker_processes"))
    ts = db.scalar(conn, "SELECT current_setting('timescaledb.max_background_workers', true)")
    need = 1 + int(running) + (1 + int(ts) if ts is not None else 0)
    parts = f"pg_cron's launcher + cron.max_running_jobs {running}" + (
        f" + TimescaleDB's launcher + timescaledb.max_background_workers {ts}" if ts is not None else "")
    value = f"{have}; background jobs may need {need} ({parts}); parallel queries share the rest"
    if have >= need:
        return [Check("max_worker_processes", "ok", value)]
    return [Check("max_worker_processes", "warn", value + ": a job that finds no free worker does not run",
                  f"ALTER SYSTEM SET max_worker_processes = {need + 8}; then restart the server")]


def _cron_jobs(conn, cc, cron_db: str, here: str, table: str) -> list[Check]:
    """Who this database's jobs in cron.job run as, and whether they are the declared ones."""
    if not db.scalar(cc, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        return [Check("cron jobs", "warn", "not checked: pg_cron shows a role only the jobs it scheduled itself",
                      "run doctor as a superuser to see every job of this database")]
    role = cron.job_role(conn, table)
    if role is None:
        return []  # the cron table does not exist yet: the migrations check says why
    have = cron.scheduled(cc, here)
    superusers = {r[0] for r in cc.execute("SELECT rolname FROM pg_roles WHERE rolsuper")}
    wrong = [f"{name}@{here} runs as {user}" + (" (a superuser)" if user in superusers else "")
             for name, (_id, _sch, _cmd, _act, user) in have.items() if user != role or user in superusers]
    checks = []
    if wrong:
        checks.append(Check("cron jobs' role", "missing",
                            f"{'; '.join(wrong)}: jobs must run as {role}, the owner of {table}, and never "
                            "as a superuser",
                            f"`dbtool migrate` reschedules the declared jobs as {role} and unschedules the others; "
                            f"or, in database {cron_db}: SELECT cron.unschedule(jobid) for each"))
    else:
        checks.append(Check("cron jobs' role", "ok", f"{len(have)} job(s) of {here} in cron.job, all run as {role}"))
    try:
        want = {j.name for j in cron.desired(conn, table)}
    except DbtoolError as exc:
        return [*checks, Check("cron jobs scheduled", "warn", exc.message, exc.hint)]
    unscheduled, undeclared = sorted(want - set(have)), sorted(set(have) - want)
    if not unscheduled and not undeclared:
        checks.append(Check("cron jobs scheduled", "ok", f"the {len(want)} job(s) of {table} are in pg_cron"))
    else:
        parts = ([f"declared in {table}, not in pg_cron: {', '.join(unscheduled)}"] if unscheduled else []) + (
            [f"in pg_cron, not declared: {', '.join(undeclared)}"] if undeclared else [])
        checks.append(Check("cron jobs scheduled", "warn", "; ".join(parts),
                            "`dbtool migrate` makes pg_cron hold exactly the declared jobs; `dbtool drift` shows "
                            "the differences"))
    return checks


# ----- the role the jobs run as -----------------------------------------------------------------


def _hypertables(conn, needs: Needs) -> list[str]:
    """The hypertables whose jobs doctor checks: the project's, or every one of the database."""
    if needs.hypertables is not None:
        return list(needs.hypertables)
    if not db.scalar(conn, "SELECT to_regclass('timescaledb_information.hypertables') IS NOT NULL"):
        return []
    return [r[0] for r in conn.execute("""SELECT hypertable_schema || '.' || hypertable_name
                                          FROM timescaledb_information.hypertables ORDER BY 1""")]


def _job_roles(conn, cron_table: str, hypertables: list[str]) -> list[Check]:
    """The owner of the cron table (pg_cron's jobs) and of the hypertables (TimescaleDB's policies):
    LOGIN so that a background worker can start as it, CONNECTION LIMIT 0 so that no client can,
    not a superuser, CONNECT on this database (pg_cron checks it), no password."""
    owned = [(_jobs_table_owner(conn, cron_table), cron_table)]
    owned += [(_owner_of(conn, t, "r"), f"{t.split('.', 1)[1]}'s hypertable") for t in hypertables]
    checks = []
    for role in dict.fromkeys(r for r, _ in owned if r):
        owns = dict.fromkeys(what for r, what in owned if r == role)
        checks.append(_job_role(conn, role, " and ".join(owns)))
    return checks


def _job_role(conn, role: str, owns: str) -> Check:
    login, limit, superuser, connect = conn.execute(
        """SELECT rolcanlogin, rolconnlimit, rolsuper, has_database_privilege(rolname, current_database(), 'CONNECT')
           FROM pg_roles WHERE rolname = %s""", [role]).fetchone()
    try:
        password = db.scalar(conn, "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = %s", [role])
    except psycopg.errors.InsufficientPrivilege:
        password = None  # only a superuser reads pg_authid
    here = db.scalar(conn, "SELECT current_database()")
    problems, attrs = [], []
    if not login:
        problems.append("NOLOGIN: no background worker can start as it, so every pg_cron job and TimescaleDB "
                        "policy fails")
        attrs.append("LOGIN")
    if limit != 0:
        problems.append(f"CONNECTION LIMIT {'none' if limit < 0 else limit}: clients may connect as the owner of "
                        "every object")
        attrs.append("CONNECTION LIMIT 0")
    if superuser:
        problems.append("SUPERUSER: its jobs would run as a superuser, and no connection limit applies to one")
        attrs.append("NOSUPERUSER")
    if password:
        problems.append("has a password, which it needs for nothing")
        attrs.append("PASSWORD NULL")
    fixes = [f"ALTER ROLE {role} {' '.join(attrs)};"] if attrs else []
    if not connect:
        problems.append(f"no CONNECT on database {here}: pg_cron checks it before running a job")
        fixes.append(f"GRANT CONNECT ON DATABASE {here} TO {role};")
    name = f"job role {role}"
    if not problems:
        return Check(name, "ok", f"LOGIN, CONNECTION LIMIT 0, not a superuser; owns {owns}: background jobs start "
                                 "as it, clients cannot connect as it")
    status = "warn" if attrs == ["PASSWORD NULL"] and connect else "missing"
    return Check(name, status, f"owns {owns}; " + "; ".join(problems), "as a superuser: " + " ".join(fixes))


# ----- TimescaleDB ------------------------------------------------------------------------------


def _timescaledb(conn, needs: Needs, hypertables: list[str]) -> list[Check]:
    license_ = db.scalar(conn, "SELECT current_setting('timescaledb.license', true)")
    if not license_:
        return [Check("timescaledb edition", "missing", "timescaledb not loaded",
                      "add timescaledb to shared_preload_libraries and restart")]
    edition = "community edition" if license_ == "timescale" else "Apache edition"
    path = needs.editions.get(license_)  # what the project's migrations do on this edition
    return [Check("timescaledb edition", "ok", f"{license_} — {edition}" + (f": {path}" if path else "")),
            *_path_taken(conn, license_, needs), *timescale_jobs.checks(conn, hypertables)]


def _path_taken(conn, license_: str, needs: Needs) -> list[Check]:
    """What the migrations built on this server, read live by the project's capabilities view: its
    columns (those `community` names, in its order), each checked against what the community edition
    must have once migration `community.since` is applied."""
    view = needs.capabilities
    if not view or "." not in view:
        return []
    schema = view.split(".", 1)[0]
    if not db.scalar(conn, "SELECT to_regnamespace(%s) IS NOT NULL", [schema]):
        return []  # not migrated yet
    if not db.scalar(conn, "SELECT has_schema_privilege(%s, 'USAGE')", [schema]):
        readable = False
    else:
        if not db.scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", [view]):
            return []
        readable = db.scalar(conn, "SELECT has_table_privilege(%s, 'SELECT')", [view])
    if not readable:
        return [Check("time-series path taken", "warn", f"{view} is not readable by this role",
                      f"run doctor as a member of {' or '.join(_readers(conn, view)) or 'a role that may read it'}")]
    cur = conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(*view.split(".", 1))))
    row = cur.fetchone()
    if row is None:
        return [Check("time-series path taken", "warn", f"{view} shows no hypertable",
                      "see docs/timescaledb.md; `dbtool drift` shows what changed")]
    have = {d.name: v for d, v in zip(cur.description, row)}
    shown = [c for c in (needs.community or have) if c in have and c not in ("hypertable", "edition", "version")]
    value = "; ".join(f"{c}: {have[c]}" for c in shown)
    since = needs.community_since
    if license_ == "timescale" and since and _applied(conn, since):
        lacking = [c for c, (want, _fix) in needs.community.items() if have.get(c) != want]
        if lacking:
            return [Check("time-series path taken", "missing",
                          f"{value}; the community edition at migration {since} should have "
                          + ", ".join(f"{c}: {needs.community[c][0]}" for c in lacking),
                          " ".join(needs.community[c][1] for c in lacking))]
    empty = [c for c in shown if have[c] == "none"]
    if empty:
        return [Check("time-series path taken", "warn", value,
                      f"no {' or '.join(empty)} is in place: re-run `dbtool migrate`, see `dbtool drift`")]
    return [Check("time-series path taken", "ok", value)]


def _readers(conn, view: str) -> list[str]:
    """The roles that may read `view`: its owner and those granted SELECT on it."""
    return [r[0] for r in conn.execute("""
        SELECT DISTINCT pg_get_userbyid(r) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
             LATERAL (SELECT c.relowner UNION SELECT a.grantee FROM aclexplode(c.relacl) a
                      WHERE a.privilege_type = 'SELECT' AND a.grantee <> 0) AS g(r)
        WHERE n.nspname = %s AND c.relname = %s ORDER BY 1""", view.split(".", 1))]


def _applied(conn, prefix: str) -> bool:
    """Has the database applied the migration whose id starts with `prefix`?"""
    try:
        return any(i.startswith(prefix) for i in ledger.applied(conn))
    except psycopg.errors.InsufficientPrivilege:
        return False


def _privileges(conn, needs: Needs) -> list[Check]:
    r = conn.execute("""SELECT rolname, rolsuper, rolcreatedb, rolbypassrls,
                               (SELECT count(*) FROM pg_roles WHERE rolname = ANY (%s)),
                               to_regrole(%s) IS NOT NULL AND pg_has_role(current_user, %s, 'MEMBER')
                        FROM pg_roles WHERE rolname = current_user""",
                     [list(needs.roles), needs.owner or None, needs.owner or None]).fetchone()
    name, superuser, createdb, bypass, roles_present, owner_member = r
    if superuser:
        return [Check("connecting role", "ok", f"{name}: superuser")]
    attrs = ", ".join(a for a, on in (("CREATEDB", createdb), ("BYPASSRLS", bypass)) if on) or "no role attributes"
    if roles_present < len(needs.roles):
        # Only a superuser may create a BYPASSRLS role, which a project may declare among its roles.
        return [Check("connecting role", "missing", f"{name}: {attrs}; the schema's roles do not exist yet",
                      "run the first migrations as a superuser, or have one create the project's roles "
                      "([tool.dbtool] roles)")]
    checks = [Check("connecting role", "ok", f"{name}: {attrs}")]
    if needs.owner:
        checks.append(Check(f"member of {needs.owner}", "ok" if owner_member else "missing",
                            "yes" if owner_member else "no",
                            None if owner_member else f"GRANT {needs.owner} TO {name}; (migrations SET ROLE to it)"))
    return checks


# ----- migrations -------------------------------------------------------------------------------


def _migrations(conn, project: Project) -> list[Check]:
    """The project's migrations against dbtool's ledger in this database. A migration that failed was
    rolled back with its record, so `dbtool migrate` stopping in the middle leaves the failed one and
    everything after it pending."""
    try:
        files = migrations.read(project.migrations_dir, project.root)
    except DbtoolError as exc:
        return [Check("migrations", "warn", f"cannot read the project's migrations: {exc.message}", exc.hint)]
    try:
        done = ledger.applied(conn)
    except psycopg.errors.InsufficientPrivilege:
        return [Check("migrations", "warn", "dbtool's ledger (schema dbtool) is not readable by this role",
                      f"run doctor as a member of {project.get('owner_role') or 'the role that owns the schema'}")]
    ids = [m.id for m in files]
    pending = [i for i in ids if i not in done]
    changed = [m.id for m in files if m.id in done and done[m.id].checksum != m.checksum
               and done[m.id].checksum not in m.accepted_checksums]
    gone = [i for i in done if i not in set(ids)]
    notes = ([f"edited since applied: {', '.join(changed)}"] if changed else []) + (
        [f"applied, file gone: {', '.join(gone)}"] if gone else [])
    if pending and done:
        last = max(done.values(), key=lambda a: (a.applied_at, a.id))
        earlier = [i for i in pending if i < last.id]
        value = (f"{len(ids) - len(pending)} of {len(ids)} applied (last {last.id}, {timescale_jobs.when(last.applied_at)}); "
                 f"{len(pending)} pending: {_span(pending)}; {pending[0]} failed or was never run, and nothing "
                 "after it was applied" if not earlier else
                 f"{len(ids) - len(pending)} of {len(ids)} applied; pending, older than applied ones: "
                 f"{', '.join(earlier)}; pending: {_span(pending)}")
        return [Check("migrations", "missing", "; ".join([value, *notes]),
                      "`dbtool migrate` (`dbtool status` lists what is pending; a migration that fails prints its "
                      "file, line and error and leaves the database as it was before it)")]
    if pending:
        return [Check("migrations", "warn", f"not migrated yet: all {len(ids)} pending", "`dbtool migrate`")]
    if notes:
        return [Check("migrations", "warn", f"all {len(ids)} applied; " + "; ".join(notes),
                      "`dbtool status` shows them; docs/engine.md, \"Fixing an applied migration\"")]
    return [Check("migrations", "ok", f"all {len(ids)} applied (head {ids[-1]})" if ids else "no migrations")]


def _span(ids: list[str]) -> str:
    return ids[0] if len(ids) == 1 else f"{ids[0]} .. {ids[-1]}"


def as_dicts(checks: list[Check]) -> list[dict]:
    return [asdict(c) for c in checks]


@dataclass
class Report:
    """`dbtool doctor`'s checks; exit 1 when something is missing."""

    checks: list[Check]

    @property
    def exit_code(self) -> int:
        return FINDINGS if any(c.status == "missing" for c in self.checks) else 0

    def as_dict(self) -> list[dict]:
        return as_dicts(self.checks)

    def lines(self, quiet: bool = False) -> list:
        colours = {"ok": "green", "warn": "yellow", "missing": "red"}
        out = []
        for c in self.checks:
            out.append(label(f"{c.status:<8}", colours[c.status], f" {c.name}: {c.value}"))
            if c.fix:
                out.append(f"{'':<9} fix: {c.fix}")
        return out


def run(url: str, project_dir: str | None = None) -> Report:
    """doctor in the project at `project_dir` (else $DBTOOL_PROJECT, else the nearest one up from here).
    Outside any project the server is checked but not the schema's needs and migrations; a project
    that is there but broken (bad TOML, two configurations) is an error, not "outside"."""
    outside = not (project_dir or os.environ.get("DBTOOL_PROJECT")) and config.find_root(Path.cwd()) is None
    project = None if outside else config.load(project_dir)
    checks = doctor(url, project)
    if project is None:
        checks.append(Check("migrations", "warn", "not checked: no dbtool project here (nor what its schema needs "
                            "of the server)", "run doctor in the project folder, or pass --project DIR"))
    return Report(checks)
