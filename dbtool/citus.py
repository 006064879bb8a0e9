"""Citus: which node of a cluster a connection reached, and what the cluster needs for dbtool's DDL.

Citus runs each DDL statement of the coordinator on every worker too, over connections it opens as
the *current* role: a migration that says `SET LOCAL ROLE <owner>` makes the coordinator log in to
each worker as the owner role. So on Citus the owner role must be able to log in on the workers,
while on the coordinator (where clients connect) it keeps migration 0016's CONNECTION LIMIT 0.
Role attributes are propagated by Citus from any node, so they are set on the workers with
propagation off. And a function with `SET <extension>.<parameter>` is checked on each worker in
a session that has not loaded the extension (the file's own `SELECT '[0]'::vector` runs on the
coordinator only): `[tool.dbtool.citus] session_preload_libraries` names the libraries every
session of the database must load (docs/citus.md).

The same holds for every role whose code runs with its own identity: a SECURITY DEFINER function
runs as its owner and REFRESH MATERIALIZED VIEW as the view's owner, so a query of theirs that reads a
distributed table makes Citus log in to the workers as that owner. The project's roles that own such
objects (NOLOGIN, like maplatform_maintenance) get LOGIN on the workers only, as the owner role does;
dbtool sets no password, and the workers' pg_hba.conf decides who may authenticate as them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from . import citus_workers, db
from .checks import Check
from .config import Project
from .errors import DatabaseFailure, DbtoolError, UsageError

COORDINATOR_GROUP = 0


@dataclass(frozen=True)
class Node:
    """role: plain (no Citus extension here), coordinator, worker, or single (Citus, no workers yet)."""

    role: str
    version: str | None = None
    group: int | None = None
    coordinator: str | None = None  # host:port, when the node's metadata names it
    workers: tuple[str, ...] = field(default_factory=tuple)


def node(conn: psycopg.Connection) -> Node:
    version = db.scalar(conn, "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus'")
    if not version:
        return Node("plain")
    group = db.scalar(conn, "SELECT groupid FROM pg_catalog.pg_dist_local_group")
    rows = conn.execute("""SELECT nodename || ':' || nodeport, groupid FROM pg_catalog.pg_dist_node
                           WHERE noderole = 'primary' AND isactive ORDER BY groupid, nodeid""").fetchall()
    coordinator = next((addr for addr, g in rows if g == COORDINATOR_GROUP), None)
    workers = tuple(addr for addr, g in rows if g != COORDINATOR_GROUP)
    if group != COORDINATOR_GROUP:
        role = "worker"
    else:
        role = "coordinator" if workers else "single"
    return Node(role, version, group, coordinator, workers)


def refuse_worker(conn: psycopg.Connection, action: str) -> None:
    """Refuse a Citus worker, saying `action` ("dbtool changes the schema through the coordinator
    only"). A worker's schema is the coordinator's to change: DDL run there would not reach the
    other nodes, and Citus' metadata would no longer describe the cluster."""
    n = node(conn)
    if n.role != "worker":
        return
    where = f" of the cluster whose coordinator is {n.coordinator}" if n.coordinator else ""
    raise UsageError(f"this server is a Citus worker (group {n.group}){where}: {action}",
                     hint=f"point DATABASE_URL at the coordinator{f' ({n.coordinator})' if n.coordinator else ''}")


def session_preload(project: Project) -> list[str]:
    return list((project.settings.get("citus") or {}).get("session_preload_libraries") or [])


def prepare(conn: psycopg.Connection, project: Project, n: Node | None = None) -> list[str]:
    """On a coordinator with workers, before each migration: what the next DDL needs of the workers.
    Idempotent; returns what it changed. A no-op on plain PostgreSQL."""
    n = n or node(conn)
    if n.role != "coordinator":
        return []
    changed = _preload_libraries(conn, session_preload(project)) + _distribute_roles(conn, project)
    owner = project.get("owner_role")
    if owner and db.scalar(conn, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", [owner]):
        changed += _owner_login_on_workers(conn, owner)
    for role in worker_login_roles(conn, project):
        changed += _login_on_workers(conn, role, f"Citus connects as {role} for its functions and materialized views",
                                     login_fix(role))
    return changed + citus_workers.align(conn)


def worker_login_roles(conn: psycopg.Connection, project: Project) -> list[str]:
    """The roles, other than the owner role, that Citus will open worker connections as: those of the
    project's roles (project_roles) that own, in this database, a SECURITY DEFINER function (it runs as
    its owner) or a materialized view (REFRESH runs as its owner), and `[tool.dbtool.citus]
    worker_logins` (e.g. the application role, for a pooler whose sessions SET ROLE to it; its login
    members need nothing: they can log in already). Superusers are left out: they log in already,
    and no project role should be one (0002)."""
    extra = list((project.settings.get("citus") or {}).get("worker_logins") or [])
    if not all(isinstance(r, str) for r in extra):
        raise UsageError("[tool.dbtool.citus] worker_logins must be a list of role names")
    owner = project.get("owner_role")
    return [r for (r,) in conn.execute("""
        SELECT r.rolname FROM pg_catalog.pg_roles AS r
        WHERE NOT r.rolsuper AND r.rolname <> %(owner)s
          AND (r.rolname = ANY (%(extra)s)
               OR (r.rolname = ANY (%(project)s)
                   AND (EXISTS (SELECT FROM pg_catalog.pg_proc AS p WHERE p.proowner = r.oid AND p.prosecdef)
                        OR EXISTS (SELECT FROM pg_catalog.pg_class AS c WHERE c.relowner = r.oid AND c.relkind = 'm'))))
        ORDER BY 1""", {"owner": owner or "", "extra": extra, "project": project_roles(conn, project)})]


def _preload_libraries(conn: psycopg.Connection, wanted: list[str]) -> list[str]:
    have = _database_preload(conn)
    missing = [lib for lib in wanted if lib not in have]
    if not missing:
        return []
    libs = have + missing
    values = sql.SQL(", ").join(map(sql.Literal, libs))  # one item each: 'a,b' would be one library "a,b"
    _as_superuser(conn, sql.SQL("ALTER DATABASE {} SET session_preload_libraries = {}").format(
        sql.Identifier(db.scalar(conn, "SELECT current_database()")), values),
        "ALTER DATABASE <this database> SET session_preload_libraries = " + ", ".join(f"'{lib}'" for lib in libs))
    return [f"session_preload_libraries of this database: {', '.join(libs)} (every node)"]


def _database_preload(conn: psycopg.Connection) -> list[str]:
    setting = db.scalar(conn, """SELECT s.cfg FROM pg_catalog.pg_db_role_setting AS r,
                                        unnest(r.setconfig) AS s (cfg)
                                 WHERE r.setrole = 0
                                   AND r.setdatabase = (SELECT oid FROM pg_catalog.pg_database
                                                        WHERE datname = current_database())
                                   AND s.cfg LIKE 'session\\_preload\\_libraries=%%'""")
    value = (setting or "=").split("=", 1)[1]
    return [x.strip().strip('"') for x in value.split(",") if x.strip()]


def _distribute_roles(conn: psycopg.Connection, project: Project) -> list[str]:
    """Citus records the roles it propagated per database (pg_dist_object). Roles made before
    this database had Citus (the first database's migration made them, or the DBA did) are not
    recorded here, and the first migration that grants to one or creates something it owns makes
    Citus re-create it on the workers over the migrating role's connection: as the owner role, which
    may not (42501 "must be superuser to alter superuser roles"). A grant by the superuser makes
    Citus propagate and record them over its superuser connection. What is granted on exists for
    that one transaction only: a schema and a function, made and dropped in it, so nothing is left on
    any node whatever happens. Only the project's roles (project_roles) are propagated."""
    wanted = project_roles(conn, project)
    roles = [r for (r,) in conn.execute("""
        SELECT r.rolname FROM pg_catalog.pg_roles AS r
        WHERE r.rolname = ANY (%s) AND NOT r.rolsuper
          AND NOT EXISTS (SELECT FROM pg_catalog.pg_dist_object AS o
                          WHERE o.classid = 'pg_catalog.pg_authid'::regclass AND o.objid = r.oid)
        ORDER BY 1""", [wanted])]
    if not roles:
        return []
    grant = sql.SQL("GRANT EXECUTE ON FUNCTION dbtool_citus_roles.probe() TO {}").format(
        sql.SQL(", ").join(map(sql.Identifier, roles)))
    try:
        with conn.transaction():
            conn.execute("CREATE SCHEMA dbtool_citus_roles")
            conn.execute("CREATE FUNCTION dbtool_citus_roles.probe() RETURNS INTEGER LANGUAGE sql AS 'SELECT 1'")
            conn.execute(grant)
            conn.execute("DROP SCHEMA dbtool_citus_roles CASCADE")
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DatabaseFailure(f"preparing Citus needs a superuser: {db.server_error(exc).message}",
                              hint="as a superuser on the coordinator: create a function, GRANT EXECUTE on it TO "
                                   f"{', '.join(roles)}, drop it (docs/citus.md)") from None
    return [f"role(s) {', '.join(roles)} recorded as Citus-propagated in this database"]


def project_roles(conn: psycopg.Connection, project: Project) -> list[str]:
    """The roles the migrations grant to: [tool.dbtool] roles, else the owner role, the roles it is a
    member of and [tool.dbtool.rls] app_roles. Never every role of the server: a DBA's own logins
    have no business on the workers."""
    if "roles" in (project.settings.get("citus") or {}):
        raise UsageError("[tool.dbtool.citus] roles moved to [tool.dbtool] roles",
                         hint="move the list one level up: roles = [...] under [tool.dbtool] (or in dbtool.toml)")
    configured = project.names("roles")
    if configured:
        return list(configured)
    owner = project.get("owner_role")
    member_of = [r for (r,) in conn.execute("""
        SELECT g.rolname FROM pg_catalog.pg_auth_members AS m
        JOIN pg_catalog.pg_roles AS g ON g.oid = m.roleid JOIN pg_catalog.pg_roles AS u ON u.oid = m.member
        WHERE u.rolname = %s""", [owner])] if owner else []
    app_roles = list((project.settings.get("rls") or {}).get("app_roles") or [])
    return sorted({*([owner] if owner else []), *member_of, *app_roles})


def give_worker_login(conn: psycopg.Connection, role: str, why: str) -> list[str]:
    """`role` may log in on every worker (for `dbtool restore`, which has no project)."""
    return _login_on_workers(conn, role, why, login_fix(role))


def _owner_login_on_workers(conn: psycopg.Connection, owner: str) -> list[str]:
    return _login_on_workers(conn, owner, "Citus runs the owner's DDL there", owner_fix(owner))


def _login_on_workers(conn: psycopg.Connection, role: str, why: str, fix_hint: str) -> list[str]:
    """LOGIN CONNECTION LIMIT -1 for `role` on each worker where it cannot log in, with Citus'
    propagation off (Citus propagates role changes from any node): the coordinator keeps its own."""
    probe = sql.SQL("SELECT rolcanlogin AND rolconnlimit <> 0 FROM pg_catalog.pg_roles WHERE rolname = {}").format(
        sql.Literal(role)).as_string(conn)
    refusing = [f"{host}:{port}" for host, port, ok, result in citus_workers.on_workers(conn, probe)
                if not (ok and result == "t")]
    if not refusing:
        return []
    fix = sql.SQL("SET citus.enable_ddl_propagation = off; ALTER ROLE {} LOGIN CONNECTION LIMIT -1").format(
        sql.Identifier(role)).as_string(conn)
    for host, port, ok, result in citus_workers.on_workers(conn, fix, superuser_fix=fix_hint):
        if not ok:
            raise DatabaseFailure(f"could not let {role} log in on Citus worker {host}:{port}: {result}",
                                  hint=fix_hint)
    return [f"{role} may log in on worker(s) {', '.join(refusing)} ({why})"]


def owner_fix(owner: str) -> str:
    return (f"as a superuser, on each worker: SET citus.enable_ddl_propagation = off; ALTER ROLE {owner} LOGIN "
            "CONNECTION LIMIT -1; and let the coordinator authenticate as it (pg_hba.conf on the workers, "
            "the password in pg_dist_authinfo on the coordinator): docs/citus.md")


def login_fix(role: str) -> str:
    return (f"as a superuser, on each worker: SET citus.enable_ddl_propagation = off; ALTER ROLE {role} LOGIN "
            f"CONNECTION LIMIT -1 (it stays NOLOGIN on the coordinator); and let the coordinator alone authenticate "
            f"as it: a hostssl line for {role} from the coordinator's address in the workers' pg_hba.conf, its "
            "certificate or password in pg_dist_authinfo on the coordinator (docs/citus.md)")


def _as_superuser(conn: psycopg.Connection, statement: sql.Composed, fix: str) -> None:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DatabaseFailure(f"preparing Citus needs a superuser: {db.server_error(exc).message}",
                              hint=f"as a superuser on the coordinator: {fix}") from None


# ----- doctor -------------------------------------------------------------------------------------


def checks(conn: psycopg.Connection, project: Project | None) -> list[Check]:
    """doctor's Citus lines; none on plain PostgreSQL."""
    n = node(conn)
    if n.role == "plain":
        return []
    if n.role == "worker":
        return [Check("citus node", "missing", f"Citus {n.version} worker (group {n.group})",
                      f"run dbtool against the coordinator{f' ({n.coordinator})' if n.coordinator else ''}")]
    out = [_node_check(n), _preload_first(conn)]
    if n.role == "single":
        return out
    out.append(_checked("citus connectivity", lambda: _health(conn)))
    if project is not None:
        out.append(_checked("citus session_preload_libraries",
                            lambda: _worker_preload(conn, session_preload(project))))
        owner = project.get("owner_role")
        logins = []
        if owner and db.scalar(conn, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", [owner]):
            out.append(_owner_reaches_workers(conn, owner))
            logins.append(owner)
        try:
            roles = worker_login_roles(conn, project)
        except (DbtoolError, psycopg.Error) as exc:
            message = exc.message if isinstance(exc, DbtoolError) else db.server_error(exc).message
            out.append(Check("citus worker logins", "warn", f"not checked: {message}", None))
            roles = []
        out += [_reaches_workers(conn, role, "Citus connects as it for its functions and materialized views",
                                 login_fix(role)) for role in roles]
        if logins or roles:
            out.append(_checked("citus worker pg_hba", lambda: _worker_hba(conn, logins + roles)))
    out.append(_checked("citus statement texts on workers", lambda: _worker_statement_texts(conn)))
    out.append(_checked("citus function grants on workers", lambda: _worker_function_grants(conn)))
    return out


def _checked(name: str, check) -> Check:
    """A check that asks the workers: its failure is one warn line, not the end of doctor."""
    try:
        return check()
    except (DbtoolError, psycopg.Error) as exc:
        message = exc.message if isinstance(exc, DbtoolError) else db.server_error(exc).message
        return Check(name, "warn", f"not checked: {message}", None)


def _node_check(n: Node) -> Check:
    if n.role == "single":
        return Check("citus node", "warn", f"Citus {n.version}, no worker registered: tables stay on this node",
                     "SELECT citus_add_node('<worker host>', <port>) for each worker")
    return Check("citus node", "ok", f"Citus {n.version} coordinator, {len(n.workers)} worker(s): "
                                     + ", ".join(n.workers))


def _preload_first(conn: psycopg.Connection) -> Check:
    libs = [x.strip() for x in (db.scalar(conn, "SHOW shared_preload_libraries") or "").split(",") if x.strip()]
    if libs and libs[0] == "citus":
        return Check("citus preload", "ok", "citus is first in shared_preload_libraries")
    rest = [x for x in libs if x != "citus"]
    return Check("citus preload", "missing", f"shared_preload_libraries = {', '.join(libs)}",
                 f"ALTER SYSTEM SET shared_preload_libraries = '{','.join(['citus', *rest])}' on every node; "
                 "restart (Citus must be loaded first)")


def _health(conn: psycopg.Connection) -> Check:
    bad = conn.execute("""SELECT from_nodename || ':' || from_nodeport || ' -> ' || to_nodename || ':' || to_nodeport
                          FROM citus_check_cluster_node_health() WHERE result IS NOT TRUE""").fetchall()
    if bad:
        return Check("citus connectivity", "missing", "cannot connect: " + "; ".join(r[0] for r in bad),
                     "every node must reach every other as the superuser (pg_hba.conf, pg_dist_authinfo)")
    return Check("citus connectivity", "ok", "every node reaches every other")


def _worker_preload(conn: psycopg.Connection, wanted: list[str]) -> Check:
    name = "citus session_preload_libraries"
    if not wanted:
        return Check(name, "ok", "none needed ([tool.dbtool.citus] session_preload_libraries)")
    rows = citus_workers.on_workers(conn, "SHOW session_preload_libraries")
    lacking = [f"{h}:{p}" for h, p, ok, result in rows
               if not ok or any(lib not in (result or "").replace(" ", "").split(",") for lib in wanted)]
    if lacking:
        return Check(name, "missing", f"{', '.join(wanted)} not loaded in new sessions on {', '.join(lacking)}",
                     f"on the coordinator: ALTER DATABASE <db> SET session_preload_libraries = '{','.join(wanted)}' "
                     "(dbtool migrate does it)")
    return Check(name, "ok", f"{', '.join(wanted)} loaded in every worker session")


def _owner_reaches_workers(conn: psycopg.Connection, owner: str) -> Check:
    """As the owner, as Citus will for the migrations' DDL: a connection to each worker."""
    return _reaches_workers(conn, owner, "Citus runs its DDL there", owner_fix(owner))


def _reaches_workers(conn: psycopg.Connection, role: str, why: str, fix: str) -> Check:
    """As `role`, as Citus will: a connection to each worker."""
    name = f"citus {role} on workers"
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            rows = conn.execute("SELECT nodename, nodeport, success, result FROM run_command_on_workers('SELECT 1')"
                                ).fetchall()
    except psycopg.Error as exc:
        return Check(name, "warn", f"not checked: {db.server_error(exc).message}", None)
    failed = [f"{h}:{p} ({r})" for h, p, ok, r in rows if not ok]
    if failed:
        return Check(name, "missing", f"{role} cannot log in on " + "; ".join(failed), fix)
    return Check(name, "ok", f"{role} logs in on every worker; {why}")


def _worker_hba(conn: psycopg.Connection, roles: list[str]) -> Check:
    """The roles that log in on the workers only for Citus (the owner, the owners of SECURITY DEFINER
    functions and materialized views, one of them BYPASSRLS) have no password: what keeps anyone else
    from logging in as them there is the workers' pg_hba.conf. A `trust` line over TCP that matches
    them (by name or `all`) lets anyone who reaches that address in."""
    name = "citus worker pg_hba"
    wanted = sql.SQL(", ").join(map(sql.Literal, ["all", *roles]))
    probe = sql.SQL("""SELECT string_agg(format('line %s: %s %s %s %s', line_number, type,
                                                 array_to_string(database, ','), array_to_string(user_name, ','),
                                                 coalesce(address, '')), '; ' ORDER BY line_number)
                       FROM pg_catalog.pg_hba_file_rules
                       WHERE auth_method = 'trust' AND type <> 'local' AND user_name && ARRAY[{}]::text[]
                         AND database <> ARRAY['replication']""").format(
        wanted).as_string(conn)
    rows = citus_workers.on_workers(conn, probe)
    unread = [f"{h}:{p} ({r})" for h, p, ok, r in rows if not ok]
    if unread:
        return Check(name, "warn", "not checked on " + "; ".join(unread), None)
    trusting = [f"{h}:{p} ({r})" for h, p, ok, r in rows if r]
    if trusting:
        return Check(name, "warn", f"trust over TCP for {', '.join(roles)} on " + "; ".join(trusting)
                     + ": anyone who reaches that address logs in as them, with no password",
                     f"on each worker's pg_hba.conf, before any line that matches them: hostssl <db> "
                     f"{','.join(roles)} <coordinator address>/32 cert (or scram-sha-256), and no trust line "
                     "for them over TCP (docs/citus.md)")
    return Check(name, "ok", f"no worker trusts {', '.join(roles)} over TCP")


def _worker_statement_texts(conn: psycopg.Connection) -> Check:
    name = "citus statement texts on workers"
    lacking = citus_workers.lacking_workers(conn, citus_workers.statement_text_fixes(conn))
    if lacking:
        return Check(name, "missing", "other sessions' statements are shown on " + ", ".join(lacking)
                     + " to roles the coordinator hides them from (pg_stat_activity, pg_stat_statements)",
                     "dbtool migrate gives the workers the coordinator's grants on them (docs/citus.md)")
    return Check(name, "ok", "the workers hide other sessions' statements as the coordinator does")


def _worker_function_grants(conn: psycopg.Connection) -> Check:
    name = "citus function grants on workers"
    lacking = citus_workers.lacking_workers(conn, citus_workers.function_grant_fixes(conn))
    if lacking:
        return Check(name, "missing", "PUBLIC may use on " + ", ".join(lacking)
                     + " functions or relations the coordinator refuses it (the owner's key functions, "
                     "TimescaleDB's internals, pg_stat_statements)",
                     "dbtool migrate gives the workers the coordinator's grants on them (docs/citus.md)")
    return Check(name, "ok", "the workers refuse PUBLIC every function and relation the coordinator refuses it")
