"""How a Citus coordinator's tables are distributed: recorded in a backup's manifest, restored after.

pg_dump on a coordinator writes every table as a plain table, with every row (Citus reads the shards
for its COPY), and the `citus` extension, but nothing of Citus' metadata (`pg_dist_*` are not the
extension's configuration tables): restored as it is, every table is a local table of the
coordinator (measured, docs/citus.md "Backup and restore of a coordinator"). So the manifest records,
in the dump's snapshot, how each table was distributed: reference, distributed by which column with
how many shards in which co-location group, or a Citus local table. The restore then runs pg_restore
in its three sections around the distribution: the tables (pre-data), distributed while empty and
without foreign keys or triggers (nothing to copy, nothing Citus refuses), the rows (data, which
Citus routes to the shards), then the indexes, keys, triggers and policies (post-data), which Citus
propagates to every shard.
"""

from __future__ import annotations

import psycopg

from .. import citus, citus_workers, db
from ..engine import Progress, silent
from ..errors import DatabaseFailure, UsageError

TYPES = ("distributed", "reference", "local")

# Each Citus table but partitions (distributing a partitioned table distributes its partitions, and
# one made later is distributed as it is made) and extension members. colocation_group names a group
# by its first table in byte order, as the snapshot's citus_table kind does: ids differ per cluster.
TABLES_SQL = r"""
SELECT format('%I.%I', n.nspname, c.relname) AS name, t.type,
       column_to_column_name(p.logicalrelid, p.partkey) AS distribution_column,
       CASE WHEN t.type = 'distributed'
            THEN (SELECT count(*) FROM pg_catalog.pg_dist_shard AS s WHERE s.logicalrelid = p.logicalrelid)::int
       END AS shard_count,
       CASE WHEN t.type = 'distributed'
            THEN (SELECT min(format('%I.%I', gn.nspname, gc.relname) COLLATE "C")
                  FROM pg_catalog.pg_dist_partition AS g
                  JOIN pg_catalog.pg_class AS gc ON gc.oid = g.logicalrelid AND NOT gc.relispartition
                  JOIN pg_catalog.pg_namespace AS gn ON gn.oid = gc.relnamespace
                  WHERE g.colocationid = p.colocationid)
       END AS colocation_group
FROM pg_catalog.pg_dist_partition AS p
JOIN pg_catalog.pg_class AS c ON c.oid = p.logicalrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT CASE WHEN p.colocationid IN (SELECT colocationid FROM pg_catalog.pg_dist_schema)
                                THEN 'schema'
                                WHEN p.partkey IS NOT NULL THEN 'distributed'
                                WHEN p.repmodel = 't' THEN 'reference'
                                WHEN p.colocationid = 0 THEN 'local'
                                ELSE 'distributed' END AS type) AS t
WHERE NOT c.relispartition
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1"""

# What a restore target may hold before a Citus archive is restored into it: Citus and what belongs to
# it (and PL/pgSQL). Anything else is content a restore must not mix with the archive's.
FOREIGN_CONTENT_SQL = r"""
SELECT (SELECT count(*) FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%' AND NOT EXISTS (
              SELECT FROM pg_catalog.pg_depend AS d WHERE d.classid = 'pg_catalog.pg_class'::regclass
                AND d.objid = c.oid AND d.deptype = 'e')
          AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d JOIN pg_catalog.pg_class AS o ON o.oid = d.refobjid
                          JOIN pg_catalog.pg_depend AS e ON e.objid = o.oid AND e.deptype = 'e'
                          WHERE d.objid = c.oid AND d.classid = 'pg_catalog.pg_class'::regclass)),
       (SELECT count(*) FROM pg_catalog.pg_namespace AS s
        WHERE s.nspname NOT IN ('public', 'information_schema') AND s.nspname NOT LIKE 'pg\_%'
          AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d WHERE d.classid = 'pg_catalog.pg_namespace'::regclass
                          AND d.objid = s.oid AND d.deptype = 'e')),
       (SELECT count(*) FROM pg_catalog.pg_extension
        WHERE extname NOT IN ('plpgsql', 'citus', 'citus_columnar')),
       (SELECT count(*) FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND NOT EXISTS (
              SELECT FROM pg_catalog.pg_depend AS d WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                AND d.objid = p.oid AND d.deptype = 'e'))"""

# The roles Citus opens worker connections as once the archive's objects exist: the owners of the
# Citus tables (their DDL, and the owner's functions writing a reference table), of SECURITY DEFINER
# functions (they run as their owner) and of materialized views (REFRESH runs as the owner, and
# pg_restore refreshes them in post-data). Superusers log in already.
WORKER_LOGIN_ROLES_SQL = r"""
SELECT r.rolname FROM pg_catalog.pg_roles AS r
WHERE NOT r.rolsuper AND (
      EXISTS (SELECT FROM pg_catalog.pg_class AS c
              WHERE c.relowner = r.oid AND (c.relkind = 'm' OR c.oid IN (SELECT logicalrelid FROM pg_catalog.pg_dist_partition)))
   OR EXISTS (SELECT FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
              WHERE p.proowner = r.oid AND p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                                AND d.objid = p.oid AND d.deptype = 'e')))
ORDER BY 1"""


def tables(conn: psycopg.Connection) -> dict[str, dict]:
    """Each Citus table (not partitions) -> its distribution, without the empty attributes."""
    out = {}
    for name, kind, column, shards, group in conn.execute(TABLES_SQL).fetchall():
        out[name] = {k: v for k, v in (("type", kind), ("distribution_column", column), ("shard_count", shards),
                                       ("colocation_group", group)) if v is not None}
    return out


def describe(conn: psycopg.Connection) -> dict | None:
    """The manifest's `citus` entry, None without the extension. Refuses a worker: its database holds
    shards and a copy of the metadata, not the tables (the coordinator's backup is the cluster's)."""
    n = citus.node(conn)
    if n.role == "plain":
        return None
    citus.refuse_worker(conn, "back up the coordinator: its dump holds every table with every row")
    found = tables(conn)
    schema = sorted(t for t, d in found.items() if d["type"] == "schema")
    if schema:
        raise UsageError(f"tables of Citus distributed schemas cannot be backed up with their distribution: "
                         f"{', '.join(schema[:5])}", hint="dbtool restores tables distributed by a column, "
                                                           "reference tables and Citus local tables")
    return {"version": n.version, "node": n.role, "workers": len(n.workers), "tables": found}


def problems(entry, qualified) -> list[str]:
    """What in a manifest's `citus` entry dbtool never writes (its values reach SQL as literals)."""
    if entry is None:
        return []
    if not isinstance(entry, dict) or not isinstance(entry.get("tables"), dict):
        return [f"citus {entry!r:.80} is malformed"]
    found = entry["tables"]
    for name, d in found.items():
        if not qualified.fullmatch(name) or not isinstance(d, dict) or d.get("type") not in TYPES:
            return [f"citus table {name!r:.80} is malformed"]
        if d["type"] == "distributed" and not (
                isinstance(d.get("distribution_column"), str) and d["distribution_column"]
                and type(d.get("shard_count")) is int and 0 < d["shard_count"] <= 64000
                and d.get("colocation_group") in found):
            return [f"the distribution of {name} {d!r:.80} is malformed"]
    return []


def summary(found: dict[str, dict]) -> dict:
    kinds = [d["type"] for d in found.values()]
    return {"reference": kinds.count("reference"), "distributed": kinds.count("distributed"),
            "local": kinds.count("local"),
            "colocation_groups": len({d["colocation_group"] for d in found.values() if d["type"] == "distributed"})}


# ----- the restore's side ---------------------------------------------------------------------

def check_target(conn: psycopg.Connection | None, name: str, man: dict) -> None:
    """A Citus archive goes into a Citus coordinator with workers, an archive without Citus into a
    database without it: refused before anything is fetched or written. `conn` is None when the
    target database does not exist."""
    source = man.get("citus")
    n = citus.node(conn) if conn is not None else citus.Node("plain")
    if source and n.role != "coordinator":
        what = {"plain": "has no citus extension" if conn is not None else "does not exist",
                "worker": "is a Citus worker", "single": "is a Citus coordinator without workers"}[n.role]
        s = summary(source["tables"])
        raise UsageError(f"the archive comes from a Citus coordinator ({s['distributed']} distributed, "
                         f"{s['reference']} reference tables); {name} {what}",
                         hint="restore into an empty database of a Citus coordinator with its workers registered: on "
                              "every node CREATE DATABASE and CREATE EXTENSION citus, then on the coordinator "
                              "citus_set_coordinator_host and citus_add_node for each worker (docs/citus.md)")
    if not source and n.role != "plain":
        raise UsageError(f"the archive comes from a server without Citus; {name} is a Citus {n.role}: every table "
                         "would stay on the coordinator, undistributed",
                         hint="restore into a database without the citus extension (a new name is created so), then "
                              "distribute it with `dbtool migrate` on a coordinator (docs/citus.md)")


def foreign_content(conn: psycopg.Connection) -> str:
    counts = conn.execute(FOREIGN_CONTENT_SQL).fetchone()
    return ", ".join(f"{n} {k}" for n, k in zip(counts, ("relations", "schemas", "extensions", "functions"),
                                                  strict=True) if n)


def distribute(conn: psycopg.Connection, wanted: dict[str, dict], progress: Progress = silent) -> None:
    """Distribute the restored, still empty tables as `wanted` says: the reference and Citus local
    tables, then each co-location group's first table with its shard count, then the others
    co-located with it. Names reach SQL as literals cast to regclass."""
    rank = {"reference": 0, "local": 1, "distributed": 2}
    order = sorted(wanted, key=lambda t: (rank[wanted[t]["type"]], wanted[t].get("colocation_group") != t, t))
    for i, table in enumerate(order, 1):
        d = wanted[table]
        progress("table", table, {"n": i, "of": len(order), "verb": "distributing"})
        if d["type"] == "reference":
            statement, params = "SELECT create_reference_table(%s::regclass)", [table]
        elif d["type"] == "local":
            statement, params = "SELECT citus_add_local_table_to_metadata(%s::regclass)", [table]
        elif d["colocation_group"] == table:
            statement = "SELECT create_distributed_table(%s::regclass, %s, shard_count => %s, colocate_with => 'none')"
            params = [table, d["distribution_column"], d["shard_count"]]
        else:
            statement = "SELECT create_distributed_table(%s::regclass, %s, colocate_with => %s)"
            params = [table, d["distribution_column"], d["colocation_group"]]
        try:
            conn.execute(statement, params)
        except psycopg.Error as exc:
            raise db.server_error(exc, f"cannot distribute {table} as on the source") from None


def differences(want: dict[str, dict], got: dict[str, dict]) -> list[str]:
    out = [f"{t}: {want[t]['type']} on the source, {got[t]['type'] if t in got else 'local'} here"
           for t in sorted(want) if got.get(t, {}).get("type") != want[t]["type"]]
    out += [f"{t}: distributed {got[t]} here, {want[t]} on the source" for t in sorted(want)
            if t in got and got[t]["type"] == want[t]["type"] and got[t] != want[t]]
    return out + [f"{t}: a Citus table here, not on the source" for t in sorted(set(got) - set(want))]


def worker_logins(conn: psycopg.Connection) -> list[str]:
    """Let the roles Citus will connect as log in on the workers (as `dbtool migrate` does; a new
    database's citus_add_node gave the workers the coordinator's NOLOGIN roles). Returns what changed."""
    changed = []
    for (role,) in conn.execute(WORKER_LOGIN_ROLES_SQL).fetchall():
        changed += citus.give_worker_login(conn, role, "the restored objects run as it on the workers")
    return changed


def align_workers(conn: psycopg.Connection) -> list[str]:
    """The workers refuse PUBLIC what the coordinator refuses it (functions, relations, other sessions'
    statements), as `dbtool migrate` makes them (docs/citus.md, "Isolation on the workers")."""
    try:
        return citus_workers.align(conn)
    except psycopg.Error as exc:
        raise DatabaseFailure(f"cannot give the workers the coordinator's grants: {db.server_error(exc).message}",
                              hint="run `dbtool migrate` on the restored database: it aligns the workers") from None
