"""Catalog snapshot: what the schema of a database is, as plain data, and how two of them differ.

`snapshot(conn)` reads the catalog with one set-based query per kind of object (the .sql files
next to this module) and returns {kind: {name: {attribute: value}}}: sorted, JSON-serialisable,
free of OIDs, timestamps, job ids and the database's own name, so that the same schema gives the
same snapshot in any database, every time. `render`/`parse` turn it into text for the repository
(YAML: one attribute per line, function bodies and view definitions as indented blocks, so a
review diff points at the changed line). `diff` lists what differs, object by object.

Citus' kinds (how each table is distributed) are read only where the citus extension is: a snapshot
of plain PostgreSQL has no such kind at all, rather than an empty one.

Left out on purpose (not schema): system and TimescaleDB-internal schemas, TimescaleDB chunks, Citus
shards and their placements, the time partitions Citus' create_time_partitions made (they come and
go by date, as chunks do; the partitioned table is read), objects that belong to an extension and the policies on its tables
(pg_cron's, when this is the cron database), dbtool's bookkeeping schema, cron run history, data.
"""

from __future__ import annotations

import difflib
import json
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import psycopg
import yaml
from psycopg import conninfo as pg_conninfo
from psycopg.pq import TransactionStatus

from .. import db
from ..cron import DEFAULT_TABLE as JOBS_TABLE  # its owner is the role cron jobs run as

HERE = Path(__file__).parent

# Kinds in the order a reader meets them (and diff reports them): containers before contents.
CORE_KINDS = ("schema", "extension", "collation", "type", "sequence", "table", "column", "constraint", "index",
              "policy", "trigger", "function", "view", "view_column", "default_privileges")
TIMESCALE_KINDS = ("hypertable", "continuous_aggregate", "timescale_job")
CITUS_KINDS = ("citus_table",)
KINDS = CORE_KINDS + TIMESCALE_KINDS + CITUS_KINDS + ("cron_job",)

SKIP_SCHEMAS = ["information_schema", "dbtool", "timescaledb_information", "timescaledb_experimental"]
SKIP_SCHEMA_RE = "^(pg_|_timescaledb_)"  # pg_catalog, pg_toast, pg_temp_N, _timescaledb_internal ...

# Attributes whose lists are sets: sorted here, in Python, so the database's collation cannot
# reorder them. Other lists (enum labels, composite attributes) keep their catalog order.
SET_ATTRIBUTES = {"roles", "options", "config"}

# Deparsing (pg_get_expr, pg_get_viewdef, format_type) qualifies every name that is not on the
# search_path, and interval/date output follows the session's styles: fix them all for the read.
READ_SETTINGS = {"search_path": "pg_catalog", "IntervalStyle": "postgres", "DateStyle": "ISO, YMD",
                 "TimeZone": "UTC", "extra_float_digits": "1"}


@lru_cache(maxsize=None)
def query(kind: str) -> str:
    return (HERE / f"{kind}.sql").read_text(encoding="utf-8")


def snapshot(conn: psycopg.Connection, *, cron_conn: psycopg.Connection | None = None,
             jobs_table: str = JOBS_TABLE) -> dict:
    """The schema of the database `conn` is connected to. `cron_conn` reaches the cron database
    (cron.database_name); when omitted, dbtool uses `conn` if this is the cron database, else
    opens a connection there with the same parameters."""
    with _reading(conn):
        timescale, citus = conn.execute("SELECT to_regclass('_timescaledb_catalog.chunk') IS NOT NULL, "
                                        "to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL").fetchone()
        # Relations every query leaves out: TimescaleDB's chunks, and Citus' time partitions.
        chunks = db.scalar(conn, query("chunks")) if timescale else []
        if citus:
            chunks = chunks + db.scalar(conn, query("time_partitions"))
        params = {"skip_schemas": SKIP_SCHEMAS, "skip_schema_re": SKIP_SCHEMA_RE, "chunks": chunks}
        snap = {kind: _rows(conn, kind, params) for kind in CORE_KINDS}
        for kind in TIMESCALE_KINDS:
            snap[kind] = _rows(conn, kind, params) if timescale else {}
        # Left out, not empty, without Citus: then the committed snapshots of plain servers have no
        # such kind, and diff does not compare a kind one side did not read.
        if citus:
            snap.update({kind: _rows(conn, kind, params) for kind in CITUS_KINDS})
        database, cron_db, job_role = conn.execute(
            "SELECT current_database(), current_setting('cron.database_name', true), "
            "(SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(%s))",
            [jobs_table or None]).fetchone()
        if cron_conn is None and cron_db == database:
            cron_conn = conn  # read inside the same consistent, read-only transaction
        if cron_conn is not None:
            snap["cron_job"] = _cron_rows(cron_conn, database, job_role)
    if "cron_job" not in snap:  # the cron database is another one: same server, same credentials
        snap["cron_job"] = {}
        if cron_db:
            with db.connection(_same_server(conn, cron_db)) as other:
                snap["cron_job"] = _cron_rows(other, database, job_role)
    for name in snap["continuous_aggregate"]:  # its user view is reported as the aggregate
        snap["view"].pop(name, None)
    return normalise(snap)


@contextmanager
def _reading(conn: psycopg.Connection) -> Iterator[None]:
    """One consistent, read-only view of the catalog with fixed output settings. Inside a caller's
    transaction this is a savepoint, and the settings are put back afterwards."""
    idle = conn.info.transaction_status == TransactionStatus.IDLE
    names = list(READ_SETTINGS)
    with conn.transaction():
        if idle:  # the settings end with the transaction
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            old = conn.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names)).fetchone()
        _set(conn, dict(zip(names, READ_SETTINGS.values())))
        yield
        if not idle:
            _set(conn, dict(zip(names, old)))


def _set(conn: psycopg.Connection, settings: dict) -> None:
    calls = ", ".join("set_config(%s, %s, true)" for _ in settings)
    conn.execute("SELECT " + calls, [x for kv in settings.items() for x in kv])


def _rows(conn: psycopg.Connection, kind: str, params: dict) -> dict:
    return {name: attrs for name, attrs in conn.execute(query(kind), params)}


def _same_server(conn: psycopg.Connection, dbname: str) -> str:
    params = conn.info.get_parameters()
    params["dbname"] = dbname
    if conn.info.password:
        params["password"] = conn.info.password
    return pg_conninfo.make_conninfo(**params)


def _cron_rows(cron_conn: psycopg.Connection, database: str, job_role: str | None = None) -> dict:
    """This database's rows of cron.job. pg_cron shows a role only its own jobs (a policy on
    cron.job; superusers see all): a role that is not a superuser but a member of the role the jobs
    run as (the owner of the jobs table, dbtool/cron.py) reads them as that role, as
    `dbtool migrate` scheduled them, and its own role is put back afterwards."""
    params = {"database": database, "suffix": "@" + database}
    with cron_conn.transaction():
        exists, role, switch = cron_conn.execute(_CRON_READER, {"job_role": job_role}).fetchone()
        if not exists:
            return {}
        if not switch:
            return {name: attrs for name, attrs in cron_conn.execute(query("cron_job"), params)}
        cron_conn.execute("SELECT set_config('role', %s, true)", [job_role])
        try:
            return {name: attrs for name, attrs in cron_conn.execute(query("cron_job"), params)}
        finally:  # the caller's transaction, when this is one, goes on as the role it had
            cron_conn.execute("SELECT set_config('role', %s, true)", [role])


# Is cron.job there; the role to return to; whether to read as the job role (not a superuser, a
# member of it, and it may read cron.job).
_CRON_READER = """
SELECT to_regclass('cron.job') IS NOT NULL, current_setting('role'),
       CASE WHEN to_regclass('cron.job') IS NULL OR r.rolsuper OR j.oid IS NULL OR j.rolname = current_user THEN false
            ELSE pg_has_role(current_user, j.oid, 'MEMBER') AND has_schema_privilege(j.oid, 'cron', 'USAGE')
                 AND has_table_privilege(j.oid, 'cron.job', 'SELECT') END
FROM pg_roles AS r LEFT JOIN pg_roles AS j ON j.rolname = %(job_role)s
WHERE r.rolname = current_user"""


_TABLE_PRIVILEGES = ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"]
# What an owner holds by default (acldefault): implied by `owner`, so not listed under privileges.
OWNER_DEFAULT = {"table": _TABLE_PRIVILEGES, "view": _TABLE_PRIVILEGES, "continuous_aggregate": _TABLE_PRIVILEGES,
                 "sequence": ["SELECT", "UPDATE", "USAGE"], "function": ["EXECUTE"], "schema": ["CREATE", "USAGE"],
                 "type": ["USAGE"]}


def normalise(snap: dict) -> dict:
    """Sorted kinds, names and attributes; set-like lists sorted; the owner's default privileges
    dropped (an owner who revoked some of its own privileges still shows). Idempotent."""
    return {kind: {name: _attrs(kind, snap[kind][name]) for name in sorted(snap[kind])} for kind in sorted(snap)}


# PostgreSQL deparses `varchar_col IN ('a', 'b')` as ... = ANY ((ARRAY['a'::character varying, ...])::text[])
# when it was written, and as ... = ANY (ARRAY[('a'::character varying)::text, ...]) once it has been
# through pg_dump and restore. Both mean col::text = ANY (ARRAY['a'::text, ...]): compare that form,
# or every restored database would show its CHECKs and partial indexes as drift.
_VARCHAR_ITEM = r"'(?:[^']|'')*'::character varying"
_VARCHAR_ARRAY = re.compile(r"\(ARRAY\[((?:" + _VARCHAR_ITEM + r"(?:, )?)+)\]\)::text\[\]")
_VARCHAR_CAST = re.compile(r"\(('(?:[^']|'')*')::character varying\)::text")


def canonical_expression(text: str) -> str:
    text = _VARCHAR_CAST.sub(r"\1::text", text)
    return _VARCHAR_ARRAY.sub(lambda m: "ARRAY[" + m.group(1).replace("::character varying", "::text") + "]", text)


def _attrs(kind: str, a: dict) -> dict:
    out = {}
    for k in sorted(a):
        v = a[k]
        if isinstance(v, str) and "::character varying" in v:
            v = canonical_expression(v)
        if k == "privileges" and isinstance(v, dict):
            v = {role: sorted(v[role]) for role in sorted(v)
                 if not (role == a.get("owner") and sorted(v[role]) == OWNER_DEFAULT.get(kind))}
            if not v:
                continue
        elif k in SET_ATTRIBUTES and isinstance(v, list):
            v = sorted(v)
        out[k] = v
    return out


# ----- text form ----------------------------------------------------------------------------

class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    pass


def _str(dumper, data: str):
    # Multi-line text (function bodies, view definitions) as a literal block: one source line per
    # file line. YAML falls back to a quoted string when the text cannot be a block (e.g. a line
    # with trailing spaces), which still round-trips exactly.
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def render(snap: dict, *, header: list[str] | None = None) -> str:
    """The snapshot as YAML, sorted; `header` lines become leading comments."""
    body = yaml.dump(normalise(snap), Dumper=_Dumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=1_000_000, indent=2)
    return "".join(f"# {line}\n" for line in header or []) + body


def parse(text: str) -> dict:
    """A snapshot from its text: the YAML of `render`, or JSON (read much faster, a YAML subset)."""
    try:
        data = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ValueError(f"invalid YAML/JSON: {str(exc).splitlines()[0]}") from None
    return from_data(data or {})


def from_data(data) -> dict:
    """Check the shape of loaded data ({kind: {name: {attribute: value}}}) and normalise it."""
    if not isinstance(data, dict) or not all(isinstance(v, dict) or v is None for v in data.values()):
        raise ValueError("not a dbtool snapshot: expected a mapping of kinds to objects")
    data = {k: v or {} for k, v in data.items()}
    if not all(isinstance(a, dict) for objs in data.values() for a in objs.values()):
        raise ValueError("not a dbtool snapshot: every object must be a mapping of attributes")
    return normalise(data)


def header(text: str) -> dict[str, str]:
    """`# key: value` lines at the top of a rendered snapshot."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].strip().partition(": ")
        if sep:
            out[key] = value
    return out


# ----- differences --------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    action: str  # added | removed | changed
    kind: str
    name: str
    before: dict | None  # removed: the whole object; changed: only the attributes that differ
    after: dict | None

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """`action  kind  name`, then what changed: `-` the expected value, `+` the live one."""
        lines = [f"{self.action:<8} {self.kind}  {self.name}"]
        if self.action == "changed":
            for key in self.before:
                lines.append(f"    {key}:")
                lines += ["      " + ln for ln in _value_diff(self.before[key], self.after[key])]
        else:
            shown = self.after if self.action == "added" else self.before
            sign = "+" if self.action == "added" else "-"
            for key, value in shown.items():
                text = _text(value)
                if "\n" in text:
                    lines.append(f"    {sign} {key}:")
                    lines += [f"    {sign}   {ln}" for ln in text.splitlines()]
                else:
                    lines.append(f"    {sign} {key}: {text}")
        return lines


def _text(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _value_diff(before, after) -> list[str]:
    if isinstance(before, dict) or isinstance(after, dict):  # privileges: only the roles that differ
        before, after, out = before or {}, after or {}, []
        for key in sorted(set(before) | set(after), key=str):
            if before.get(key) != after.get(key):
                out += [f"- {key}: {_text(before.get(key))}", f"+ {key}: {_text(after.get(key))}"]
        return out
    a, b = _text(before), _text(after)
    if "\n" in a or "\n" in b:  # a function body, a view: show only the lines that changed
        out = difflib.unified_diff(a.splitlines(), b.splitlines(), "expected", "live", n=1, lineterm="")
        return list(out)[2:]
    return [f"- {a}", f"+ {b}"]


# pg_get_expr() of `(SELECT f())`: a sub-select of one call without arguments, named after it.
_CALL_SUBSELECT = re.compile(r"\( SELECT ((?:[A-Za-z_][A-Za-z0-9_$]*\.)?([A-Za-z_][A-Za-z0-9_$]*)\(\)) AS \2\)")


def citus_policy_form(text: str | None) -> str | None:
    """A policy expression as Citus accepts it: each sub-select of one call without arguments,
    `( SELECT app.f() AS f)`, as the call itself. Citus refuses sub-selects in the policies of
    distributed tables; for a STABLE function both forms admit the same rows (docs/citus.md)."""
    return _CALL_SUBSELECT.sub(r"\1", text) if text else text


def _on_citus(snap: dict) -> dict:
    """`snap`, read without Citus, as a Citus coordinator would have it: its policies in Citus' form."""
    policies = {name: {k: citus_policy_form(v) if k in ("using", "with_check") else v for k, v in attrs.items()}
                for name, attrs in snap.get("policy", {}).items()}
    return {**snap, "policy": policies} if "policy" in snap else snap


def diff(expected: dict, actual: dict) -> list[Change]:
    """What `actual` has that `expected` has not, and the reverse, object by object. A kind that
    one side did not read at all (e.g. a snapshot file written before dbtool knew that kind) is
    not compared; a kind read as empty is. When one side was read on Citus and the other without
    it (a Citus coordinator against the committed snapshot of plain PostgreSQL), the other side's
    policies are compared in the form Citus accepts (citus_policy_form): the only form a policy can
    take there, which the schema's files give it on Citus."""
    if ("citus_table" in expected) != ("citus_table" in actual):
        expected, actual = (expected, _on_citus(actual)) if "citus_table" in expected else (_on_citus(expected), actual)
    order = {k: i for i, k in enumerate(KINDS)}
    kinds = sorted(set(expected) & set(actual), key=lambda k: (order.get(k, len(order)), k))
    changes: list[Change] = []
    for kind in kinds:
        want, have = expected[kind], actual[kind]
        for name in sorted(set(want) | set(have)):
            if name not in have:
                changes.append(Change("removed", kind, name, want[name], None))
            elif name not in want:
                changes.append(Change("added", kind, name, None, have[name]))
            elif want[name] != have[name]:
                keys = sorted(k for k in set(want[name]) | set(have[name]) if want[name].get(k) != have[name].get(k))
                changes.append(Change("changed", kind, name, {k: want[name].get(k) for k in keys},
                                      {k: have[name].get(k) for k in keys}))
    return changes
