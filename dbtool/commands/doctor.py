"""`dbtool doctor`: is this server fit for the schema? Each missing item comes with its fix.

Besides the server's make-up (version, preload, extensions, pg_cron placement, TimescaleDB edition,
the connecting role), doctor reads what keeps the scheduled work running: pg_cron's settings and who
its jobs run as, the role the jobs start as, the health of TimescaleDB's jobs on the timeline and
whether their work is done, and whether the database's migrations reached the project's head.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

from .. import citus, config, cron, db, ledger, migrations
from ..checks import Check, timescale_jobs
from ..config import Project
from ..errors import FINDINGS, DbtoolError
from ..output import label

OWNER_ROLE = "maplatform_owner"  # pg_cron's job role when ops.cron_jobs has no owner to ask (M&A schema)
# The schemas activity_timeline's hypertable lives in: public before 0018, timeline since.
TIMELINE_SCHEMAS = ["timeline", "public"]


@dataclass(frozen=True)
class Needs:
    """What the project says its schema needs of the server ([tool.dbtool] extensions, preload, roles,
    owner_role); outside a project, nothing: doctor then reads only what the server has."""

    extensions: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    owner: str = ""

    @classmethod
    def of(cls, project: Project | None) -> "Needs":
        if project is None:
            return cls()
        return cls(tuple(project.names("extensions")), tuple(project.names("preload")),
                   tuple(project.names("roles")), project.get("owner_role"))


def doctor(url: str, project: Project | None = None) -> list[Check]:
    """Every check, in a fixed order. With `project`, also what it needs of the server and whether its
    migrations are all applied. pg_cron's and TimescaleDB's checks run where the project uses them
    (outside a project: where the server loads them)."""
    needs = Needs.of(project)
    with db.connection(url) as conn:
        loaded = _loaded(conn)
        checks = [_version(conn), _preload(loaded, needs.preload)]
        checks += citus.checks(conn, project)
        checks += [_extension(conn, e) for e in needs.extensions]
        # A project says what it uses; outside one, what the server loads is what there is to check.
        uses = set(needs.preload + needs.extensions) if project is not None else set(loaded or [])
        if "pg_cron" in uses:
            checks += _cron(url, conn)
        checks += _job_roles(conn)
        if "timescaledb" in uses:
            checks += _timescaledb(conn)
        if "pgaudit" in needs.preload:
            checks.append(_audit_log(conn))
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


def _cron(url: str, conn) -> list[Check]:
    try:
        cron_db = cron.cron_database(conn)
    except DbtoolError as exc:
        return [Check("cron.database_name", "warn", exc.message, exc.hint), *_cron_settings(conn)]
    if not cron_db:
        return [Check("pg_cron", "missing", "not loaded",
                      "add pg_cron to shared_preload_libraries, set cron.database_name, restart")]
    checks = _cron_settings(conn)
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
                checks += _cron_jobs(conn, cc, cron_db, here)
            except psycopg.Error as exc:
                checks.append(Check("cron jobs", "warn", f"cannot read cron.job in {cron_db}: "
                                                         f"{db.server_error(exc).message}", None))
    except (DbtoolError, psycopg.Error) as exc:  # the cron database may not be reachable with these credentials
        message = exc.message if isinstance(exc, DbtoolError) else db.server_error(exc).message
        return [*checks, Check("cron.database_name", "warn", f"{cron_db}: cannot connect ({message})",
                               f"dbtool needs to connect to {cron_db} to schedule jobs")]
    return checks


def _jobs_table_owner(conn) -> str | None:
    """cron.job_role, also for a role without USAGE on schema ops (which to_regclass refuses)."""
    try:
        return cron.job_role(conn)
    except psycopg.errors.InsufficientPrivilege:
        return db.scalar(conn, """SELECT pg_get_userbyid(c.relowner) FROM pg_class c
                                  JOIN pg_namespace n ON n.oid = c.relnamespace
                                  WHERE n.nspname = 'ops' AND c.relname = 'cron_jobs'""")


def _job_role_limits(conn) -> tuple[str, tuple | None]:
    """The role pg_cron's jobs run as (the owner of ops.cron_jobs; the schema's owner role before the
    table exists) and its (rolcanlogin, rolconnlimit), None when the role does not exist yet."""
    role = _jobs_table_owner(conn) or OWNER_ROLE
    row = conn.execute("SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = %s", [role]).fetchone()
    return role, row


def _cron_settings(conn) -> list[Check]:
    """cron.use_background_workers, cron.enable_superuser_jobs and the worker budget they need."""
    role, limits = _job_role_limits(conn)
    checks = []
    readable, workers = _setting(conn, "cron.use_background_workers")
    if not readable:
        checks.append(_unreadable(conn, "cron.use_background_workers"))
    elif workers == "on":
        checks.append(Check("cron.use_background_workers", "ok",
                            f"on: jobs run in background workers as {role}, which its CONNECTION LIMIT 0 "
                            "does not stop"))
    else:
        refused = limits is None or limits[1] == 0
        why = (f"pg_cron connects through libpq as {role}, and {role}'s CONNECTION LIMIT 0 (migration 0016) refuses "
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
                            f"{superuser_jobs or 'on'}: pg_cron would run a job scheduled as a superuser; this "
                            f"schema's jobs run as {role}",
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


def _cron_jobs(conn, cc, cron_db: str, here: str) -> list[Check]:
    """Who this database's jobs in cron.job run as, and whether they are the declared ones."""
    if not db.scalar(cc, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        return [Check("cron jobs", "warn", "not checked: pg_cron shows a role only the jobs it scheduled itself",
                      "run doctor as a superuser to see every job of this database")]
    role = cron.job_role(conn)
    if role is None:
        return []  # ops.cron_jobs does not exist yet: the migrations check says why
    have = cron.scheduled(cc, here)
    superusers = {r[0] for r in cc.execute("SELECT rolname FROM pg_roles WHERE rolsuper")}
    wrong = [f"{name}@{here} runs as {user}" + (" (a superuser)" if user in superusers else "")
             for name, (_id, _sch, _cmd, _act, user) in have.items() if user != role or user in superusers]
    checks = []
    if wrong:
        checks.append(Check("cron jobs' role", "missing",
                            f"{'; '.join(wrong)}: jobs must run as {role}, the owner of ops.cron_jobs, and never "
                            "as a superuser",
                            f"`dbtool migrate` reschedules the declared jobs as {role} and unschedules the others; "
                            f"or, in database {cron_db}: SELECT cron.unschedule(jobid) for each"))
    else:
        checks.append(Check("cron jobs' role", "ok", f"{len(have)} job(s) of {here} in cron.job, all run as {role}"))
    try:
        want = {j.name for j in cron.desired(conn)}
    except DbtoolError as exc:
        return [*checks, Check("cron jobs scheduled", "warn", exc.message, exc.hint)]
    unscheduled, undeclared = sorted(want - set(have)), sorted(set(have) - want)
    if not unscheduled and not undeclared:
        checks.append(Check("cron jobs scheduled", "ok", f"the {len(want)} job(s) of ops.cron_jobs are in pg_cron"))
    else:
        parts = ([f"declared in ops.cron_jobs, not in pg_cron: {', '.join(unscheduled)}"] if unscheduled else []) + (
            [f"in pg_cron, not declared: {', '.join(undeclared)}"] if undeclared else [])
        checks.append(Check("cron jobs scheduled", "warn", "; ".join(parts),
                            "`dbtool migrate` makes pg_cron hold exactly the declared jobs; `dbtool drift` shows "
                            "the differences"))
    return checks


# ----- the role the jobs run as -----------------------------------------------------------------


def _job_roles(conn) -> list[Check]:
    """The owner of ops.cron_jobs (pg_cron's jobs) and of the hypertable (TimescaleDB's policies):
    LOGIN so that a background worker can start as it, CONNECTION LIMIT 0 so that no client can,
    not a superuser, CONNECT on this database (pg_cron checks it), no password."""
    cron_owner = _jobs_table_owner(conn)
    ht_owners = [r[0] for r in conn.execute("""SELECT pg_get_userbyid(c.relowner) FROM pg_class c
                                               JOIN pg_namespace n ON n.oid = c.relnamespace
                                               WHERE c.relname = 'activity_timeline' AND c.relkind = 'r'
                                                 AND n.nspname = ANY (%s)""", [TIMELINE_SCHEMAS])]
    checks = []
    for role in dict.fromkeys(r for r in [cron_owner, *ht_owners] if r):
        owns = (["ops.cron_jobs"] if role == cron_owner else []) + (
            ["activity_timeline's hypertable"] if role in ht_owners else [])
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


def _timescaledb(conn) -> list[Check]:
    license_ = db.scalar(conn, "SELECT current_setting('timescaledb.license', true)")
    if not license_:
        return [Check("timescaledb edition", "missing", "timescaledb not loaded",
                      "add timescaledb to shared_preload_libraries and restart")]
    if license_ == "timescale":
        path = ("community edition: migration 0018 compresses timeline.activity_timeline after 7 days, keeps it a "
                "year and makes daily_activity_summary a continuous aggregate, all by TimescaleDB's policies "
                "(docs/timescaledb.md)")
    else:
        path = ("Apache edition: retention by a pg_cron drop_chunks job, daily_activity_summary a materialized "
                "view refreshed by pg_cron, compression unavailable")
    return [Check("timescaledb edition", "ok", f"{license_} — {path}"), *_path_taken(conn, license_), *timescale_jobs.checks(conn)]


COMMUNITY_SHAPE = {  # ops.timescaledb_capabilities at 0018 on the community edition
    "compression": ("enabled, with a compression policy",
                    "SELECT add_compression_policy('timeline.activity_timeline', INTERVAL '7 days');"),
    "retention": ("timescaledb retention policy",
                  "SELECT add_retention_policy('timeline.activity_timeline', INTERVAL '1 year');"),
    "daily_activity_summary": ("continuous aggregate",
                               "`dbtool rollback --to 0017` then `dbtool migrate` (0018 builds it on this edition)"),
}


def _path_taken(conn, license_: str) -> list[Check]:
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
    # The view gained its hypertable column with 0018: a database before it reads as the public one.
    has_column = db.scalar(conn, """SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attname = 'hypertable'
                                    AND attrelid = 'ops.timescaledb_capabilities'::regclass)""")
    row = conn.execute(("SELECT hypertable" if has_column else "SELECT 'public.activity_timeline'")
                       + ", compression, retention, daily_activity_summary FROM ops.timescaledb_capabilities"
                       ).fetchone()
    if row is None:
        return [Check("time-series path taken", "warn", "activity_timeline is not a hypertable",
                      "see docs/timescaledb.md; `dbtool drift` shows what changed")]
    hypertable, compression, retention, summary = row
    value = f"retention: {retention}; daily_activity_summary: {summary}; compression: {compression}"
    if license_ == "timescale" and hypertable == "timeline.activity_timeline":  # 0018's shape
        have = {"compression": compression, "retention": retention, "daily_activity_summary": summary}
        lacking = [k for k, (want, _fix) in COMMUNITY_SHAPE.items() if have[k] != want]
        if lacking:
            return [Check("time-series path taken", "missing",
                          f"{value}; the community edition at migration 0018 should have "
                          + ", ".join(f"{k}: {COMMUNITY_SHAPE[k][0]}" for k in lacking),
                          " ".join(COMMUNITY_SHAPE[k][1] for k in lacking))]
    if retention == "none" or summary == "none":
        return [Check("time-series path taken", "warn", value,
                      "no retention or no daily summary is in place: re-run `dbtool migrate`, see `dbtool drift`")]
    return [Check("time-series path taken", "ok", value)]


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
        # Only a superuser may create a BYPASSRLS role (maplatform_maintenance).
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
