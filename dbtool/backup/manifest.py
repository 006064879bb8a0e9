"""The manifest written next to every archive, and what it records about the database.

The manifest is what makes a restore checkable: the archive's sha256 (of the file as stored, so
a truncated download or a flipped byte is caught before the target is touched), the versions a
restore must match (server, extensions, TimescaleDB edition), the database-level properties that
pg_dump leaves out without --create (settings, CONNECT grants), the roles the objects need (roles
are cluster-wide and not in a dump), and per-table row counts and content fingerprints, read in
the same snapshot as the dump, that the restored copy must reproduce.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import psycopg
from psycopg import sql

from .. import __version__, db, ledger
from ..errors import DbtoolError, UsageError
from . import distribution

FORMAT = "dbtool-backup/1"
ARCHIVE = ".dump"
ENCRYPTED = ".dump.gpg"
MANIFEST = ".manifest.json"
PARTIAL = ".partial"

# Text forms that do not depend on the client: fingerprints must match across sessions and servers.
STABLE_OUTPUT = ("SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'", "SET IntervalStyle = 'postgres'",
                 "SET extra_float_digits = 1", "SET bytea_output = 'hex'",
                 # Fail rather than fingerprint the rows one tenant can see (pg_dump does the same).
                 "SET row_security = off")


def stem_for(database: str, at: datetime) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", database).strip("-.") or "database"
    return f"{safe}_{at.strftime('%Y%m%dT%H%M%SZ')}"


def stem_of(name: str) -> str | None:
    """The backup a file belongs to (`shop_20250101T020000Z`), or None for other files."""
    for suffix in (ENCRYPTED + PARTIAL, ARCHIVE + PARTIAL, ENCRYPTED, ARCHIVE, MANIFEST):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def created_at(manifest: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(manifest["created_at"].replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def parse(text: str, where: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where} is not a valid manifest: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{where} is not a dbtool backup manifest (format {FORMAT} expected)")
    return data


# ----- what a restore may take from a manifest ------------------------------------------------
# Whoever can write the backup folder can write the manifest, and a restore runs as a superuser:
# every value that reaches SQL or a path is checked here, before anything runs, and then reaches
# SQL only as an identifier, a literal or one of these keywords.

PRIVILEGES = {"CONNECT": "CONNECT", "CREATE": "CREATE", "TEMPORARY": "TEMPORARY", "TEMP": "TEMPORARY"}
_IDENT = r'(?:[a-z_][a-z0-9_]*|"(?:[^"]|"")+")'
QUALIFIED = re.compile(rf"{_IDENT}\.{_IDENT}")  # what format('%I.%I', schema, table) gives


def check(manifest: dict, where: str, stem: str) -> None:
    """Refuse a manifest holding what `dbtool backup` never writes; `stem` is its backup's name."""
    problem = next(_problems(manifest, stem), None)
    if problem:
        raise DbtoolError(f"refusing the manifest {where}: {problem}",
                          hint="a manifest dbtool writes never holds this: it was edited or damaged, and nothing "
                               "was restored; use another backup, from a folder only trusted users can write")


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_text(value, empty: bool = False) -> bool:
    return isinstance(value, str) and (empty or value != "")


def _problems(man: dict, stem: str) -> Iterator[str]:
    """Each value the restore uses, as one message per wrong one (a generator: the first is enough)."""
    if not isinstance(man.get("server_version_num"), int):
        yield f"server_version_num {_show(man.get('server_version_num'))} is not a number"
    archive, dump = man.get("archive"), man.get("dump")
    if not isinstance(archive, dict) or archive.get("file") not in (stem + ARCHIVE, stem + ENCRYPTED):
        yield f"archive file {_show((archive or {}).get('file'))} is not {stem + ARCHIVE} or {stem + ENCRYPTED}"
    for label, part in (("archive", archive), ("dump", dump)):
        if not isinstance(part, dict) or not isinstance(part.get("bytes"), int) or not _is_text(part.get("sha256")):
            yield f"{label} size or sha256 {_show(part)} is malformed"
    yield from _database_problems(man.get("database"))
    yield from _table_problems(man.get("tables"))
    yield from distribution.problems(man.get("citus"), QUALIFIED)
    yield from _extension_problems(man)
    roles = man.get("roles", [])
    if not isinstance(roles, list) or not all(_is_text(r) for r in roles):
        yield f"roles {_show(roles)} are not role names"


def _database_problems(d) -> Iterator[str]:
    if not isinstance(d, dict) or not _is_text(d.get("name")):
        yield f"database {_show(d)} is malformed"
        return
    for key in ("encoding", "lc_collate", "lc_ctype"):
        if not _is_text(d.get(key), empty=True):
            yield f"database {key} {_show(d.get(key))} is not text"
    for key in ("owner", "icu_locale", "comment"):
        if d.get(key) is not None and not _is_text(d[key], empty=True):
            yield f"database {key} {_show(d[key])} is not text"
    acl = d.get("acl")
    if acl is not None and not isinstance(acl, list):
        yield f"database acl {_show(acl)} is not a list"
        return
    for a in acl or []:
        if not isinstance(a, dict) or not _is_text(a.get("grantee")):
            yield f"grantee {_show(a.get('grantee') if isinstance(a, dict) else a)} is not a role name"
        elif not isinstance(a.get("privilege"), str) or a["privilege"].upper() not in PRIVILEGES:
            yield f"database privilege {_show(a.get('privilege'))} is not CONNECT, CREATE or TEMPORARY"
        elif not isinstance(a.get("grantable"), bool):
            yield f"grantable {_show(a.get('grantable'))} is not true or false"
    settings = d.get("settings", [])
    for s in settings if isinstance(settings, list) else [settings]:
        if not isinstance(s, dict) or not _is_text(s.get("setting")) or not (
                s.get("role") is None or _is_text(s["role"])):
            yield f"database setting {_show(s)} is malformed"


def _table_problems(tables) -> Iterator[str]:
    if not isinstance(tables, dict):
        yield f"tables {_show(tables)} is not a mapping"
        return
    for name, t in tables.items():
        if not QUALIFIED.fullmatch(name):
            yield f"table name {_show(name)} is not a schema-qualified name as PostgreSQL quotes it"
        elif not isinstance(t, dict) or type(t.get("rows")) is not int or not _is_text(t.get("fingerprint")):
            yield f"row count or fingerprint of {name} {_show(t)} is malformed"


def _extension_problems(man: dict) -> Iterator[str]:
    extensions = man.get("extensions")
    if not isinstance(extensions, list) or not all(
            isinstance(e, dict) and all(_is_text(e.get(k)) for k in ("name", "version", "schema")) for e in extensions):
        yield f"extensions {_show(extensions)} are malformed"
        return
    ts = man.get("timescaledb")
    if ts is None:
        return
    if not isinstance(ts, dict) or not _is_text(ts.get("version")) or not isinstance(ts.get("hypertables", []), list):
        yield f"timescaledb {_show(ts)} is malformed"
    elif not any(e["name"] == "timescaledb" for e in extensions):
        yield "timescaledb is described but not among the extensions"


def dumps(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, sort_keys=False) + "\n"


# ----- what the manifest records ---------------------------------------------------------------

TABLES_SQL = r"""
SELECT format('%I.%I', n.nspname, c.relname), n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
  AND n.nspname NOT LIKE '\_timescaledb%'          -- chunks and TimescaleDB's own catalog
  AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)   -- counted with their parent
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')                -- extension members
ORDER BY 1"""

# Order-independent: a restore writes rows in another physical order. Streams; no sort, no memory.
FINGERPRINT_SQL = sql.SQL("""
SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text
FROM {table} AS t""")

# Roles the objects of this database refer to (owners, grantees, policies): roles are cluster-wide,
# not in the dump, and a restore without them fails half-way. pg_shdepend omits the bootstrap
# superuser, so the owners of schemas, relations and functions are added.
ROLES_SQL = r"""
SELECT rolname FROM pg_roles WHERE oid IN (
    SELECT refobjid FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass
      AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION SELECT nspowner FROM pg_namespace
      WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_%'
        AND nspname NOT LIKE '\_timescaledb%'
    UNION SELECT c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
    UNION SELECT p.proowner FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))
ORDER BY 1"""

DATABASE_SQL = """
SELECT d.datname, pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, d.datlocprovider::text,
       d.daticulocale, pg_get_userbyid(d.datdba), shobj_description(d.oid, 'pg_database'),
       (SELECT json_agg(json_build_object('grantee', coalesce(pg_get_userbyid(nullif(a.grantee, 0)), 'PUBLIC'),
                                          'privilege', a.privilege_type, 'grantable', a.is_grantable))
        FROM aclexplode(d.datacl) a) AS acl,
       d.datacl IS NULL AS default_acl
FROM pg_database d WHERE d.datname = current_database()"""

SETTINGS_SQL = """
SELECT coalesce(r.rolname, ''), unnest(s.setconfig)
FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY 1, 2"""


def tables(conn: psycopg.Connection) -> dict[str, tuple[str, str]]:
    """Each table as the manifest names it (`schema.table`, quoted where needed) -> (schema, table)."""
    return {r[0]: (r[1], r[2]) for r in conn.execute(TABLES_SQL).fetchall()}


def fingerprint(conn: psycopg.Connection, table: str, parts: tuple[str, str]) -> dict:
    """Rows and content digest of `table`, read from the catalog's (schema, name) `parts`: a name
    string (from a manifest, say) never becomes SQL."""
    try:
        rows, digest = conn.execute(FINGERPRINT_SQL.format(table=sql.Identifier(*parts))).fetchone()
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DbtoolError(f"cannot read {table}: {db.server_error(exc).message}",
                          hint="back up as the owner of every table or a role with BYPASSRLS (a superuser): "
                               "a dump must see every tenant's rows") from None
    return {"rows": rows, "fingerprint": digest}


def stable_session(conn: psycopg.Connection) -> None:
    for stmt in STABLE_OUTPUT:
        conn.execute(stmt)


def describe(conn: psycopg.Connection) -> dict:
    """Everything but the archive itself: versions, database properties, migrations, roles."""
    version, version_num = conn.execute("SELECT current_setting('server_version'), "
                                        "current_setting('server_version_num')::int").fetchone()
    return {
        "format": FORMAT,
        "dbtool_version": __version__,
        "database": database_properties(conn),
        "server_version": version,
        "server_version_num": version_num,
        "extensions": [dict(zip(("name", "version", "schema"), r, strict=True)) for r in conn.execute(
            "SELECT e.extname, e.extversion, n.nspname FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY e.oid").fetchall()],
        "timescaledb": timescaledb(conn),
        "migrations": list(ledger.applied(conn)),
        "roles": [r[0] for r in conn.execute(ROLES_SQL).fetchall()],
    }


def database_properties(conn: psycopg.Connection) -> dict:
    (name, encoding, collate, ctype, provider, icu, owner, comment, acl,
     default_acl) = conn.execute(DATABASE_SQL).fetchone()
    settings = [{"role": r or None, "setting": s} for r, s in conn.execute(SETTINGS_SQL).fetchall()]
    return {"name": name, "encoding": encoding, "lc_collate": collate, "lc_ctype": ctype,
            "locale_provider": {"i": "icu", "c": "libc"}.get(provider, provider), "icu_locale": icu,
            "owner": owner, "comment": comment, "acl": None if default_acl else (acl or []),
            "settings": settings}


def timescaledb(conn: psycopg.Connection) -> dict | None:
    version = db.scalar(conn, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    if not version:
        return None
    hyper = conn.execute("SELECT format('%I.%I', hypertable_schema, hypertable_name), compression_enabled "
                         "FROM timescaledb_information.hypertables ORDER BY 1").fetchall()
    caggs = db.scalar(conn, "SELECT count(*) FROM timescaledb_information.continuous_aggregates")
    return {"version": version, "edition": db.scalar(conn, "SELECT current_setting('timescaledb.license', true)"),
            "hypertables": [h for h, _ in hyper], "compressed_hypertables": [h for h, c in hyper if c],
            "continuous_aggregates": caggs}
