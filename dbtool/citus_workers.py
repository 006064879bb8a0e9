"""What dbtool runs on the workers of a Citus coordinator: commands through run_command_on_workers, and the
workers' grants aligned with the coordinator's, which Citus does not propagate (docs/citus.md,
"Isolation on the workers"). `dbtool migrate` aligns them before each run, `dbtool restore` after one,
and `dbtool doctor` reports a worker that differs (dbtool.citus).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from . import db
from .errors import DatabaseFailure


def align(conn: psycopg.Connection) -> list[str]:
    """The workers get the coordinator's grants on other sessions' statements, functions and relations;
    a line for each kind a worker lacked."""
    return _statement_texts(conn) + _function_grants(conn)


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


def statement_text_fixes(conn: psycopg.Connection) -> str:
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


def _statement_texts(conn: psycopg.Connection) -> list[str]:
    lacking = _align_workers(
        conn, statement_text_fixes(conn), "hide other sessions' statements on",
        "as a superuser on each worker, make the grants on pg_stat_activity, pg_stat_get_activity, "
        "pg_stat_get_backend_activity and pg_stat_statements the coordinator's (docs/citus.md)")
    return [f"other sessions' statements hidden on worker(s) {', '.join(lacking)} as on the coordinator "
            "(grants on pg_stat_activity, pg_stat_statements)"] if lacking else []


# Every function PUBLIC may not execute on the coordinator. Citus creates a function on the workers
# when something distributed depends on it, with its default grants (PUBLIC's EXECUTE), and propagates
# no GRANT or REVOKE on it afterwards; TimescaleDB's internals, whose EXECUTE 0016 takes from PUBLIC, are
# created by the extension's script on each worker. There a tenant-facing login (which must log in on
# the workers: Citus connects as it) called the owner's SECURITY DEFINER functions that read the
# signing keys (app.mint_tenant_token, app.add_tenant_key, ...) directly or through
# run_command_on_workers; measured, only the registry's write failed, the owner being unable to log in
# on the coordinator. The workers get the coordinator's grants: PUBLIC loses what it lacks on the
# coordinator, each role granted on the coordinator gets it. (Other grants on a worker are left alone.)
FUNCTION_GRANTS = """
    SELECT format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes)) AS name,
           ARRAY(SELECT DISTINCT r.rolname::text FROM aclexplode(p.proacl) AS a
                 JOIN pg_catalog.pg_roles AS r ON r.oid = a.grantee
                 WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner ORDER BY 1) AS grantees
    FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
    WHERE p.proacl IS NOT NULL
      AND NOT EXISTS (SELECT FROM aclexplode(p.proacl) AS a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
    ORDER BY 1"""


# And every relation's privileges PUBLIC has on the coordinator: on a worker PUBLIC loses the others
# (0002's and 0016's REVOKE on pg_stat_statements' views and TimescaleDB's invalidation logs stayed on
# the coordinator). Tables, views, materialized views, foreign tables; the shards are not on the
# coordinator, and a distributed table's grants are Citus' to propagate (they are: measured).
PUBLIC_RELATION_PRIVILEGES = """
    SELECT format('%I.%I', n.nspname, c.relname) AS name,
           ARRAY(SELECT a.privilege_type FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
                 WHERE a.grantee = 0 ORDER BY 1) AS public
    FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT LIKE 'pg\\_temp\\_%'
      AND n.nspname NOT LIKE 'pg\\_toast%'
    ORDER BY 1"""


def function_grant_fixes(conn: psycopg.Connection) -> str:
    """A query that, on a worker, returns the statements (text[]) that give it the coordinator's
    grants on every function PUBLIC may not execute on the coordinator, and take from PUBLIC every
    privilege on a relation it lacks on the coordinator; empty when it has them. An object the worker
    lacks is skipped."""
    rows = conn.execute(FUNCTION_GRANTS).fetchall()
    names = sql.Literal([name for name, _ in rows]).as_string(conn)
    granted = [(name, g) for name, grantees in rows for g in grantees]
    granted_names = sql.Literal([n for n, _ in granted]).as_string(conn)
    granted_roles = sql.Literal([g for _, g in granted]).as_string(conn)
    relations = conn.execute(PUBLIC_RELATION_PRIVILEGES).fetchall()
    rel_names = sql.Literal([name for name, _ in relations]).as_string(conn)
    allowed = [(name, priv) for name, privs in relations for priv in privs]
    allowed_names = sql.Literal([n for n, _ in allowed]).as_string(conn)
    allowed_privs = sql.Literal([p for _, p in allowed]).as_string(conn)
    return f"""SELECT ARRAY(
        SELECT format('REVOKE %s ON TABLE %s FROM PUBLIC', a.privilege_type, f.name)
        FROM unnest({rel_names}::text[]) AS f (name), pg_catalog.to_regclass(f.name) AS o (oid)
        JOIN pg_catalog.pg_class AS c ON c.oid = o.oid,
             aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
        WHERE a.grantee = 0
          AND NOT EXISTS (SELECT FROM unnest({allowed_names}::text[], {allowed_privs}::text[]) AS k (name, privilege)
                          WHERE k.name = f.name AND k.privilege = a.privilege_type)
        UNION ALL
        SELECT format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC', f.name)
        FROM unnest({names}::text[]) AS f (name), pg_catalog.to_regprocedure(f.name) AS o (oid)
        JOIN pg_catalog.pg_proc AS p ON p.oid = o.oid
        WHERE EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
                      WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
        UNION ALL
        SELECT format('GRANT EXECUTE ON ROUTINE %s TO %I', g.name, r.rolname)
        FROM unnest({granted_names}::text[], {granted_roles}::text[]) AS g (name, rolname)
        JOIN pg_catalog.pg_roles AS r ON r.rolname = g.rolname,
             pg_catalog.to_regprocedure(g.name) AS o (oid)
        JOIN pg_catalog.pg_proc AS p ON p.oid = o.oid
        WHERE NOT EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
                          WHERE a.grantee = r.oid AND a.privilege_type = 'EXECUTE'))"""


def _apply_on_worker(fixes: str) -> str:
    """One statement that runs on a worker each statement `fixes` returns, with Citus' propagation off.
    One statement, not `SET ...; DO ...`: run_command_on_workers reports the first result of a
    multi-statement command, and a failing DO after a SET was reported as success (measured)."""
    return ("DO $dbtool$ DECLARE s text; BEGIN "
            "PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true); "
            f"FOREACH s IN ARRAY ({fixes}) LOOP EXECUTE s; END LOOP; END $dbtool$")


def _function_grants(conn: psycopg.Connection) -> list[str]:
    lacking = _align_workers(
        conn, function_grant_fixes(conn), "give the coordinator's grants on functions to",
        "as a superuser on each worker, revoke EXECUTE from PUBLIC on each function PUBLIC may not execute "
        "on the coordinator (docs/citus.md)")
    return [f"what PUBLIC may not use on the coordinator revoked from PUBLIC on worker(s) {', '.join(lacking)} "
            "(functions: the owner's key functions, TimescaleDB's internals; relations: pg_stat_statements)"] \
        if lacking else []


def lacking_workers(conn: psycopg.Connection, fixes: str) -> list[str]:
    """The workers (host:port) on which `fixes`, a query returning the statements a worker still lacks,
    finds any (or fails)."""
    return [f"{h}:{p}" for h, p, ok, result in on_workers(conn, fixes) if not ok or result != "{}"]


def _align_workers(conn: psycopg.Connection, fixes: str, doing: str, hint: str) -> list[str]:
    """The workers (host:port) on which `fixes`, a query returning the statements a worker still lacks,
    found any, after running them there; a worker that refuses them fails the run with `hint`."""
    lacking = lacking_workers(conn, fixes)
    if lacking:
        for host, port, ok, result in on_workers(conn, _apply_on_worker(fixes)):
            if not ok:
                raise DatabaseFailure(f"could not {doing} Citus worker {host}:{port}: {result}", hint=hint)
    return lacking


def on_workers(conn: psycopg.Connection, command: str, superuser_fix: str | None = None) -> list[tuple]:
    try:
        return conn.execute("SELECT nodename, nodeport, success, result FROM run_command_on_workers(%s)",
                            [command]).fetchall()
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DatabaseFailure(f"preparing the Citus workers needs a superuser: {db.server_error(exc).message}",
                              hint=superuser_fix or "run dbtool migrate as a superuser on the coordinator") from None
