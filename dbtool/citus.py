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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from . import db
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
    return changed + _statement_texts_on_workers(conn)


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


def _owner_login_on_workers(conn: psycopg.Connection, owner: str) -> list[str]:
    probe = sql.SQL("SELECT rolcanlogin AND rolconnlimit <> 0 FROM pg_catalog.pg_roles WHERE rolname = {}").format(
        sql.Literal(owner)).as_string(conn)
    refusing = [f"{host}:{port}" for host, port, ok, result in _on_workers(conn, probe) if not (ok and result == "t")]
    if not refusing:
        return []
    fix = sql.SQL("SET citus.enable_ddl_propagation = off; ALTER ROLE {} LOGIN CONNECTION LIMIT -1").format(
        sql.Identifier(owner)).as_string(conn)
    for host, port, ok, result in _on_workers(conn, fix, superuser_fix=owner_fix(owner)):
        if not ok:
            raise DatabaseFailure(f"could not let {owner} log in on Citus worker {host}:{port}: {result}",
                                  hint=owner_fix(owner))
    return [f"{owner} may log in on worker(s) {', '.join(refusing)} (Citus runs the owner's DDL there)"]


# Other sessions' statements: pg_stat_activity and the functions behind it, and pg_stat_statements'
# functions. A migration's GRANT or REVOKE on them (0016 takes them from PUBLIC) stays on the
# coordinator, Citus propagates neither, and every role reaches the workers through Citus
# (run_command_on_workers is PUBLIC's): there a session saw the statements of its login's other
# sessions' Citus connections, literals and tenant tokens included (`SET LOCAL app.tenant_token`,
# measured). The workers get the coordinator's grants: PUBLIC loses there what it lacks on the
# coordinator, each role granted on the coordinator gets the same there. (Other grants on a worker
# are left alone.)
STATEMENT_TEXT_OBJECTS = """
    SELECT 'TABLE' AS kind, 'pg_catalog.pg_stat_activity' AS name, 'SELECT' AS privilege,
           coalesce(c.relacl, acldefault('r', c.relowner)) AS acl, c.relowner AS owner
    FROM pg_catalog.pg_class AS c WHERE c.oid = 'pg_catalog.pg_stat_activity'::regclass
    UNION ALL
    SELECT 'FUNCTION', format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes)),
           'EXECUTE', coalesce(p.proacl, acldefault('f', p.proowner)), p.proowner
    FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
    WHERE p.oid IN ('pg_catalog.pg_stat_get_activity(integer)'::regprocedure,
                    'pg_catalog.pg_stat_get_backend_activity(integer)'::regprocedure)
       OR (p.proname IN ('pg_stat_statements', 'pg_stat_statements_info')
           AND p.oid IN (SELECT d.objid FROM pg_catalog.pg_depend AS d JOIN pg_catalog.pg_extension AS e
                                 ON e.oid = d.refobjid
                         WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'e'
                           AND e.extname = 'pg_stat_statements'))"""


def _statement_text_fixes(conn: psycopg.Connection) -> str:
    """A query that, on a worker, returns the statements (text[]) that give it the coordinator's
    grants on STATEMENT_TEXT_OBJECTS; empty when it has them."""
    rows = conn.execute(f"""
        SELECT o.kind, o.name, o.privilege,
               EXISTS (SELECT FROM aclexplode(o.acl) AS a WHERE a.grantee = 0 AND a.privilege_type = o.privilege),
               ARRAY(SELECT DISTINCT r.rolname FROM aclexplode(o.acl) AS a JOIN pg_catalog.pg_roles AS r
                       ON r.oid = a.grantee
                     WHERE a.privilege_type = o.privilege AND a.grantee <> o.owner ORDER BY 1)
        FROM ({STATEMENT_TEXT_OBJECTS}) AS o ORDER BY 1, 2""").fetchall()
    parts = []
    for kind, name, privilege, public, grantees in rows:
        literal = sql.Literal(name).as_string(conn)
        acl = (f"(SELECT coalesce(c.relacl, acldefault('r', c.relowner)) FROM pg_catalog.pg_class AS c "
               f"WHERE c.oid = {literal}::regclass)" if kind == "TABLE" else
               f"(SELECT coalesce(p.proacl, acldefault('f', p.proowner)) FROM pg_catalog.pg_proc AS p "
               f"WHERE p.oid = {literal}::regprocedure)")
        on = f"{privilege} ON {kind} {name}"
        if not public:  # PUBLIC lacks it on the coordinator: revoke it on a worker where it has it
            parts.append(f"""SELECT {sql.Literal(f"REVOKE {on} FROM PUBLIC").as_string(conn)}
                             WHERE EXISTS (SELECT FROM aclexplode({acl}) AS a
                                           WHERE a.grantee = 0 AND a.privilege_type = '{privilege}')""")
        if grantees:  # each role granted it on the coordinator and not on the worker
            parts.append(f"""SELECT format('GRANT {on} TO %I', g.rolname)
                             FROM unnest({sql.Literal(grantees).as_string(conn)}::text[]) AS g (rolname)
                             WHERE NOT EXISTS (SELECT FROM aclexplode({acl}) AS a
                                               JOIN pg_catalog.pg_roles AS r ON r.oid = a.grantee
                                               WHERE r.rolname = g.rolname AND a.privilege_type = '{privilege}')""")
    return "SELECT ARRAY(" + "\nUNION ALL\n".join(parts) + ")" if parts else "SELECT ARRAY[]::text[]"


def _statement_texts_on_workers(conn: psycopg.Connection) -> list[str]:
    fixes = _statement_text_fixes(conn)
    lacking = [f"{h}:{p}" for h, p, ok, result in _on_workers(conn, fixes) if not ok or result != "{}"]
    if not lacking:
        return []
    apply = ("SET citus.enable_ddl_propagation = off; DO $dbtool$ DECLARE s text; BEGIN "
             f"FOREACH s IN ARRAY ({fixes}) LOOP EXECUTE s; END LOOP; END $dbtool$")
    for host, port, ok, result in _on_workers(conn, apply):
        if not ok:
            raise DatabaseFailure(f"could not hide other sessions' statements on Citus worker {host}:{port}: {result}",
                                  hint="as a superuser on each worker, make the grants on pg_stat_activity, "
                                       "pg_stat_get_activity, pg_stat_get_backend_activity and pg_stat_statements "
                                       "the coordinator's (docs/citus.md)")
    return [f"other sessions' statements hidden on worker(s) {', '.join(lacking)} as on the coordinator "
            "(grants on pg_stat_activity, pg_stat_statements)"]


def owner_fix(owner: str) -> str:
    return (f"as a superuser, on each worker: SET citus.enable_ddl_propagation = off; ALTER ROLE {owner} LOGIN "
            "CONNECTION LIMIT -1; and let the coordinator authenticate as it (pg_hba.conf on the workers, "
            "the password in pg_dist_authinfo on the coordinator): docs/citus.md")


def _on_workers(conn: psycopg.Connection, command: str, superuser_fix: str | None = None) -> list[tuple]:
    try:
        return conn.execute("SELECT nodename, nodeport, success, result FROM run_command_on_workers(%s)",
                            [command]).fetchall()
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DatabaseFailure(f"preparing the Citus workers needs a superuser: {db.server_error(exc).message}",
                              hint=superuser_fix or "run dbtool migrate as a superuser on the coordinator") from None


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
        if owner and db.scalar(conn, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", [owner]):
            out.append(_owner_reaches_workers(conn, owner))
    out.append(_checked("citus statement texts on workers", lambda: _worker_statement_texts(conn)))
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
    rows = _on_workers(conn, "SHOW session_preload_libraries")
    lacking = [f"{h}:{p}" for h, p, ok, result in rows
               if not ok or any(lib not in (result or "").replace(" ", "").split(",") for lib in wanted)]
    if lacking:
        return Check(name, "missing", f"{', '.join(wanted)} not loaded in new sessions on {', '.join(lacking)}",
                     f"on the coordinator: ALTER DATABASE <db> SET session_preload_libraries = '{','.join(wanted)}' "
                     "(dbtool migrate does it)")
    return Check(name, "ok", f"{', '.join(wanted)} loaded in every worker session")


def _owner_reaches_workers(conn: psycopg.Connection, owner: str) -> Check:
    """As the owner, as Citus will for the migrations' DDL: a connection to each worker."""
    name = f"citus {owner} on workers"
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(owner)))
            rows = conn.execute("SELECT nodename, nodeport, success, result FROM run_command_on_workers('SELECT 1')"
                                ).fetchall()
    except psycopg.Error as exc:
        return Check(name, "warn", f"not checked: {db.server_error(exc).message}", None)
    failed = [f"{h}:{p} ({r})" for h, p, ok, r in rows if not ok]
    if failed:
        return Check(name, "missing", f"{owner} cannot log in on " + "; ".join(failed), owner_fix(owner))
    return Check(name, "ok", f"{owner} logs in on every worker; Citus runs its DDL there")


def _worker_statement_texts(conn: psycopg.Connection) -> Check:
    name = "citus statement texts on workers"
    lacking = [f"{h}:{p}" for h, p, ok, result in _on_workers(conn, _statement_text_fixes(conn))
               if not ok or result != "{}"]
    if lacking:
        return Check(name, "missing", "other sessions' statements are shown on " + ", ".join(lacking)
                     + " to roles the coordinator hides them from (pg_stat_activity, pg_stat_statements)",
                     "dbtool migrate gives the workers the coordinator's grants on them (docs/citus.md)")
    return Check(name, "ok", "the workers hide other sessions' statements as the coordinator does")
