"""`dbtool restore`: an archive into a database, checked before, during and after.

A failed restore leaves the target exactly as it was, because nothing touches the target until
the restored copy has passed every check:

1. The manifest and the target are checked first: server and TimescaleDB versions, extensions,
   roles, and that the target is empty (or that the user said --yes to replace it).
2. The archive is fetched and its size and sha256 compared with the manifest; an encrypted one
   is decrypted into a private temporary folder and the plain dump's sha256 checked as well;
   `pg_restore --list` proves it is a readable archive.
3. It is restored into a new temporary database `<target>_restore_<random>` on the same server,
   with TimescaleDB's whole procedure (extension at the archive's version, timescaledb_pre_restore(),
   pg_restore, timescaledb_post_restore()) and the database-level settings and grants from the
   manifest. Every table's row count and fingerprint must match the manifest.
4. Only then is the target swapped: the old database is renamed aside, the new one renamed to
   the target's name, and the old one dropped. Any failure before that drops the temporary
   database; a failure of the swap renames the old database back. Once the copy has the target's
   name the restore has succeeded: a failure to drop the old copy is a warning naming it.
5. TimescaleDB's background workers, which the rename stopped, are started again, and pg_cron
   jobs, which live in the cron database and not in the dump, are scheduled for the restored
   database from its cron table (`cron_table`, the project's [tool.dbtool] cron_table; dbtool.cron.sync).

An archive of a Citus coordinator (its manifest has `citus`: how each table was distributed) goes
into an existing, empty database of a coordinator with its workers registered, and nowhere else;
an archive without Citus never goes into a Citus database. A database cannot be renamed across the
nodes of a cluster, so there is no temporary copy: pg_restore's sections run in the target itself,
the tables distributed between the schema and the rows (dbtool.backup.distribution), and a failure
drops the target on every node and creates it again as it was, empty with its workers registered.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg import sql

from .. import citus, cron, db, ledger
from ..backup import distribution
from ..backup import manifest as mf
from ..backup import storage, tools
from ..engine import Progress, silent
from ..errors import DatabaseFailure, DbtoolError, UsageError

NOT_RESTORED = ("plpgsql", "pg_cron")  # built in; pg_cron lives in the cron database (see _toc)
MAINTENANCE_DBS = ("postgres", "template1")
RESTORING = re.compile(r'processing data for table "(.+)"')  # pg_restore --verbose, per table
GUC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)*")  # a setting's name, dotted
# GUCs whose values are lists (pg_dump's variable_is_guc_list_quote): one literal per element.
LIST_GUCS = {"local_preload_libraries", "search_path", "session_preload_libraries",
             "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories"}

EMPTY_SQL = r"""
SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'),
       (SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema')
          AND nspname NOT LIKE 'pg\_%'),
       (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql'),
       (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')),
       (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND t.typtype IN ('e', 'd', 'r', 'm'))"""


@dataclass
class RestoreResult:
    database: str
    archive: str
    source_database: str
    backup_created_at: str
    created: bool = False
    replaced: bool = False
    tables: int = 0
    rows: int = 0
    hypertables: list[str] = field(default_factory=list)
    migrations: int = 0
    cron: dict | None = None
    citus: dict | None = None  # a Citus archive: the tables distributed as on the source, the workers' roles
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def remarks(self) -> list[str]:
        return [f"warning: {w}" for w in self.warnings]

    def lines(self, quiet: bool = False) -> list[str]:
        c = self.cron or {}
        jobs = len(c.get("scheduled", []) + c.get("updated", []) + c.get("unchanged", []))
        return [f"{self.database}: restored {self.archive} ({self.source_database}, {self.backup_created_at}); "
                f"{self.tables} tables, {self.rows} rows verified"
                + (f"; hypertables: {', '.join(self.hypertables)}" if self.hypertables else "")
                + (f"; Citus: {self.citus['distributed']} distributed tables in {self.citus['colocation_groups']} "
                   f"co-location group(s), {self.citus['reference']} reference tables" if self.citus else "")
                + (f"; cron jobs scheduled: {jobs}" if c else "")]


@dataclass
class Target:
    name: str
    exists: bool = False
    contents: str = ""  # what makes it non-empty; "" when empty
    owner: str | None = None
    sessions: str = ""  # other sessions connected to it


def restore(archive: str, url: str | None, *, replace: bool = False, confirm: Callable[[str], bool] | None = None,
            progress: Progress = silent, cron_table: str = cron.DEFAULT_TABLE) -> RestoreResult:
    """Restore `archive` (a local file or s3:// URL, the archive or its manifest) into the database
    of `url`, creating it if needed. A non-empty target is replaced only with `replace` or when
    `confirm(question)` says yes. No `url` is a usage error: DATABASE_URL is never the default target."""
    if not url:
        raise UsageError("restore needs --database-url: the database to restore into",
                         hint="it is created if it does not exist; DATABASE_URL is deliberately not used")
    target = Target(target_name(url))
    where, name = storage.split(archive)
    man, archive_name = load_manifest(where, name)
    with db.connection(_maintenance_url(url)) as admin:
        _inspect(admin, url, target)
        _check_citus(url, target, man)
        warnings = preflight(admin, man)
        _confirm_replace(target, replace, confirm)
        _refuse_sessions(target.name, target.sessions)
        result = RestoreResult(database=target.name, archive=where.url(archive_name),
                               source_database=man["database"]["name"], backup_created_at=man["created_at"],
                               created=not target.exists, replaced=bool(target.contents), warnings=warnings)
        with tempfile.TemporaryDirectory(prefix="dbtool-restore-") as tmp:
            dump = verified_dump(where, archive_name, man, Path(tmp), progress)
            if man.get("citus"):
                _restore_into_coordinator(admin, url, target, man, dump, Path(tmp), progress, result)
            else:
                _restore_and_swap(admin, url, target, man, dump, Path(tmp), progress, result)
    _finish(url, man, progress, result, cron_table)
    return result


def target_name(url: str) -> str:
    name = db.parse(url).get("dbname") or os.environ.get("PGDATABASE")
    if not name:
        raise UsageError("the target URL names no database", hint="use postgresql://user@host/DBNAME")
    if name in (*MAINTENANCE_DBS, "template0"):
        raise UsageError(f"refusing to restore into the maintenance database {name!r}",
                         hint="restore into an application database (it is created if it does not exist)")
    return name


def load_manifest(where, name: str) -> tuple[dict, str]:
    """The manifest and the archive's file name, given either of the two."""
    stem = mf.stem_of(name)
    if stem is None or name.endswith(mf.PARTIAL):
        raise UsageError(f"{where.url(name)} is not a dbtool backup (NAME.dump, NAME.dump.gpg or "
                         "NAME.manifest.json expected)", hint="`dbtool backup list DIR` shows the backups there")
    try:
        text = where.read_text(stem + mf.MANIFEST)
    except UsageError:
        raise UsageError(f"no manifest next to {where.url(name)} (expected {stem + mf.MANIFEST})",
                         hint="restore needs the manifest to verify the archive; copy it from where the "
                              "backup was made") from None
    man = mf.parse(text, where.url(stem + mf.MANIFEST))
    mf.check(man, where.url(stem + mf.MANIFEST), stem)  # before any of it reaches SQL or a path
    # Given the archive, use that file (its sha256 proves it is the manifest's); given the manifest, its archive.
    return man, man["archive"]["file"] if name.endswith(mf.MANIFEST) else name


def _maintenance_url(url: str) -> str:
    """A connection to another database of the server: the target cannot be renamed from inside."""
    for name in MAINTENANCE_DBS:
        candidate = db.with_dbname(url, name)
        try:
            db.connect(candidate).close()
            return candidate
        except DbtoolError as exc:
            last = exc
    raise last


def _inspect(admin: psycopg.Connection, url: str, target: Target) -> None:
    row = admin.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                        [target.name]).fetchone()
    if not row:
        return
    target.exists, target.owner = True, row[0]
    with db.connection(url) as conn:
        counts = conn.execute(EMPTY_SQL).fetchone()
        target.sessions = _other_sessions(conn, target.name)  # from inside: our own session is not counted
    kinds = ("relations", "schemas", "extensions", "functions", "types")
    target.contents = ", ".join(f"{n} {k}" for n, k in zip(counts, kinds, strict=True) if n)


def _other_sessions(conn: psycopg.Connection, name: str) -> str:
    """Sessions that would block the swap (a rename), as `user/application, ...`; "" when none.
    TimescaleDB's workers are not counted: they stop by themselves for a rename; nor Citus' maintenance
    daemon and its own connections between the nodes of a coordinator (a Citus archive is restored
    without a rename)."""
    return conn.execute("""SELECT string_agg(coalesce(nullif(usename, ''), '?') || '/' ||
                                  coalesce(nullif(application_name, ''), backend_type), ', ')
                           FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()
                             AND backend_type NOT LIKE 'TimescaleDB%%'
                             AND backend_type NOT LIKE 'Citus%%'
                             AND application_name NOT LIKE 'citus\\_internal gpid=%%'""",
                        [name]).fetchone()[0] or ""


def _refuse_sessions(name: str, sessions: str) -> None:
    """Restore never ends other sessions, and they prevent the rename: checked before the work
    (not after an hour of pg_restore) and again before the swap."""
    if sessions:
        raise DbtoolError(f"cannot replace {name}: other sessions are connected to it ({sessions})",
                          hint="stop the application (or ask those sessions to disconnect) and run the restore "
                               "again; restore never terminates sessions")


def _check_citus(url: str, target: Target, man: dict) -> None:
    """A Citus archive into an empty coordinator database only, one without Citus never into one
    with it (distribution.check_target). For a Citus archive, what the target holds besides Citus is
    its content: a coordinator database is never replaced (its nodes cannot rename it together)."""
    if not target.exists:
        distribution.check_target(None, target.name, man)
        return
    with db.connection(url) as conn:
        distribution.check_target(conn, target.name, man)
        if man.get("citus"):
            target.contents = distribution.foreign_content(conn)
    if man.get("citus") and target.contents:
        raise UsageError(f"target database {target.name} is not empty ({target.contents}): a Citus archive is "
                         "restored into an empty coordinator database only",
                         hint="restore into another empty database of the coordinator, or drop this one on every "
                              "node and create it again with CREATE EXTENSION citus and its workers registered")


def _confirm_replace(target: Target, replace: bool, confirm) -> None:
    if not target.contents or replace:
        return
    question = (f"Database {target.name} is not empty ({target.contents}). Replace it with the backup? "
                "Its current content is dropped once the restored copy is verified")
    if confirm is not None and confirm(question):
        return
    raise UsageError(f"target database {target.name} is not empty ({target.contents})",
                     hint="restore into a new database name (it is created), or pass --yes to replace it: "
                          "the current content is dropped only after the restored copy is verified")


# ----- checks before anything is written ------------------------------------------------------

def preflight(admin: psycopg.Connection, man: dict) -> list[str]:
    """Refuse archives this server cannot take, before any work; returns warnings."""
    server = db.scalar(admin, "SELECT current_setting('server_version_num')::int")
    if server // 10000 < man["server_version_num"] // 10000:
        raise UsageError(f"the archive comes from PostgreSQL {man['server_version']}; this server is older "
                         f"({server // 10000})", hint="restore into a server of the same or a newer major version")
    _check_roles(admin, man)
    warnings = _check_extensions(admin, man)
    _check_timescaledb(admin, man)
    return warnings


def _check_roles(admin: psycopg.Connection, man: dict) -> None:
    d = man["database"]
    needed = set(man.get("roles", [])) | {s["role"] for s in d.get("settings", []) if s.get("role")}
    needed |= {a["grantee"] for a in d.get("acl") or [] if a["grantee"] != "PUBLIC"}
    have = {r[0] for r in admin.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                        [sorted(needed)]).fetchall()}
    missing = sorted(needed - have)
    if missing:
        raise UsageError(f"roles the archive's objects belong to do not exist on this server: {', '.join(missing)}",
                         hint="roles are cluster-wide and not in a database dump: create them first "
                              "(pg_dumpall --roles-only on the source cluster, or the roles migration)")


def _check_extensions(admin: psycopg.Connection, man: dict) -> list[str]:
    wanted = {e["name"]: e["version"] for e in man["extensions"] if e["name"] not in NOT_RESTORED}
    rows = admin.execute("SELECT name, version FROM pg_available_extension_versions WHERE name = ANY(%s)",
                         [list(wanted)]).fetchall()
    available: dict[str, set] = {}
    for n, v in rows:
        available.setdefault(n, set()).add(v)
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise UsageError(f"extensions the archive needs are not installed on this server: {', '.join(missing)}",
                         hint="install them on the server (see scripts/install-postgres.sh)")
    if "timescaledb" in wanted and wanted["timescaledb"] not in available["timescaledb"]:
        raise UsageError(f"the archive needs TimescaleDB {wanted['timescaledb']}; this server has "
                         f"{', '.join(sorted(available['timescaledb']))}",
                         hint="TimescaleDB restores only into the same version: install it on the target, "
                              "restore, then ALTER EXTENSION timescaledb UPDATE")
    return [f"extension {n} {v} is not available here; the server's default version is restored instead"
            for n, v in sorted(wanted.items()) if v not in available[n]]


def _check_timescaledb(admin: psycopg.Connection, man: dict) -> None:
    ts = man.get("timescaledb")
    if not ts:
        return
    preload = db.scalar(admin, "SELECT current_setting('shared_preload_libraries')") or ""
    if "timescaledb" not in preload:
        raise UsageError("the archive uses TimescaleDB, which is not in this server's shared_preload_libraries",
                         hint="add timescaledb to shared_preload_libraries and restart the server")
    license_ = db.scalar(admin, "SELECT current_setting('timescaledb.license', true)")
    if license_ == "apache" and (ts.get("compressed_hypertables") or ts.get("continuous_aggregates")):
        raise UsageError("the archive has compressed hypertables or continuous aggregates, which this server's "
                         "TimescaleDB (Apache edition) cannot hold",
                         hint="restore into a server with the TimescaleDB community (timescale) edition")


# ----- the archive ----------------------------------------------------------------------------

@dataclass
class Dump:
    path: Path  # the plain pg_dump archive
    pg_restore: str  # the pg_restore of the archive's server version
    listing: list[str]  # its table of contents (pg_restore --list)


def verified_dump(where, name: str, man: dict, workdir: Path, progress: Progress = silent) -> Dump:
    """The plain pg_dump archive, after proving it is the one the manifest describes."""
    progress("step", f"fetching {where.url(name)}", {})
    stored = where.fetch(name, workdir)
    _check_file(stored, man["archive"], name)
    plain = stored
    if name.endswith(mf.ENCRYPTED):
        progress("step", f"decrypting {name}", {})
        plain = workdir / name[: -len(".gpg")]
        tools.decrypt(stored, plain, man["archive"].get("key_fingerprint"))
        _check_file(plain, man["dump"], name + " (decrypted)")
    pg_restore = tools.pg_program("pg_restore", man["server_version_num"] // 10000)
    res = subprocess.run([pg_restore, "--list", str(plain)], capture_output=True, text=True)
    if res.returncode != 0:
        raise DbtoolError(f"{name} is not a readable pg_dump archive: "
                          f"{tools.last_error(res.stderr.splitlines(), 'pg_restore')}")
    return Dump(plain, pg_restore, res.stdout.splitlines())


def _check_file(path: Path, expected: dict, label: str) -> None:
    size = path.stat().st_size
    if size != expected["bytes"]:
        state = "truncated" if size < expected["bytes"] else "longer than it should be"
        raise DbtoolError(f"{label} is {size} bytes but its manifest says {expected['bytes']}: the archive is {state}",
                          hint="the target was not touched; copy the archive again or use another backup")
    digest = mf.sha256_file(path)
    if digest != expected["sha256"]:
        raise DbtoolError(f"{label} does not match its manifest: sha256 {digest[:16]}… instead of "
                          f"{expected['sha256'][:16]}…",
                          hint="the archive is corrupted, or the manifest belongs to another backup; "
                               "the target was not touched")


def _toc(listing: list[str], workdir: Path, skip_schema: str | None) -> tuple[Path, int]:
    """The archive's table of contents minus pg_cron: its jobs are re-created by dbtool in the
    cron database, and its extension can only exist there. Returns the list file and the number
    of tables with data (for progress)."""
    drop = [re.compile(r"^\d+; \d+ \d+ (EXTENSION - |COMMENT - EXTENSION )pg_cron\b"),
            re.compile(r"^\d+; \d+ \d+ [A-Z ]+? cron ")]
    if skip_schema:  # created before pg_restore, with the extension in it
        drop.append(re.compile(rf"^\d+; \d+ \d+ SCHEMA - {re.escape(skip_schema)} "))
    kept = [ln for ln in listing if not any(p.search(ln) for p in drop)]
    path = workdir / "toc.list"
    path.write_text("\n".join(kept) + "\n")
    return path, sum(" TABLE DATA " in ln for ln in kept)


# ----- restore into a temporary database, verify, swap ---------------------------------------

def _restore_and_swap(admin, url, target: Target, man: dict, dump: Dump, workdir: Path, progress,
                      result: RestoreResult) -> None:
    tmpdb = _scratch_name(target.name, "restore")
    _create_database(admin, tmpdb, man, target)
    try:
        tmp_url = db.with_dbname(url, tmpdb)
        _load(admin, tmp_url, tmpdb, man, dump, workdir, progress)
        _post_restore(tmp_url, _timescaledb_schema(man))
        progress("step", "verifying row counts and fingerprints against the manifest", {})
        verify(tmp_url, man, result)
        _swap(admin, url, tmpdb, target, progress, result)
    except BaseException:
        _drop_quietly(admin, tmpdb)
        raise


def _restore_into_coordinator(admin, url, target: Target, man: dict, dump: Dump, workdir: Path, progress,
                              result: RestoreResult) -> None:
    """A Citus archive, in the empty coordinator database of `url`: the tables (pre-data), distributed
    while empty as the manifest says, the roles Citus connects as given their login on the workers,
    the rows (data: Citus routes them to the shards), then indexes, keys, triggers, policies and the
    materialized views' rows (post-data; triggers on distributed tables need
    citus.enable_unsafe_triggers), verified like any restore. Any failure empties the target again."""
    with db.connection(url) as conn:
        before, cluster = mf.database_properties(conn), citus.node(conn)
    wanted = man["citus"]["tables"]
    hint = f"{target.name} was emptied again, as it was before the restore"
    try:
        with db.connection(url) as conn:  # from inside the database: Citus gives the workers the same
            database_properties(conn, target.name, man["database"])
        _load_timescaledb(url, man)
        schema = _timescaledb_schema(man)
        toc, total = _toc(dump.listing, workdir, schema if man.get("timescaledb") and schema != "public" else None)
        progress("step", f"restoring the tables of the archive into {target.name}", {})
        _pg_restore(dump.pg_restore, dump.path, toc, url, progress, 0, section="pre-data", hint=hint)
        with db.connection(url) as conn:
            progress("step", f"distributing {len(wanted)} tables as on the source", {})
            distribution.distribute(conn, wanted, progress)
            logins = distribution.worker_logins(conn)
        progress("step", "restoring the rows into the shards", {})
        _pg_restore(dump.pg_restore, dump.path, toc, url, progress, total, section="data", hint=hint)
        progress("step", "restoring indexes, constraints, triggers and policies on every shard", {})
        _pg_restore(dump.pg_restore, dump.path, toc, url, progress, 0, section="post-data",
                    options="-c citus.enable_unsafe_triggers=on", hint=hint)
        _post_restore(url, schema)
        progress("step", "verifying row counts, fingerprints and distribution against the manifest", {})
        verify(url, man, result)
        with db.connection(url) as conn:
            aligned = distribution.align_workers(conn)
    except BaseException as exc:
        failed = _empty_again(admin, url, target, before, cluster)
        if isinstance(exc, DbtoolError):
            exc.hint = (hint if not failed else
                        f"{target.name} could not be emptied again ({failed}): drop it on every node and create it "
                        "again with CREATE EXTENSION citus and its workers registered")
        raise
    result.citus = {**distribution.summary(wanted), "workers": len(cluster.workers), "worker_logins": logins,
                    "workers_aligned": aligned}


def _load_timescaledb(url: str, man: dict) -> None:
    """TimescaleDB's restore procedure, when the archive has it: the archive's version, then restoring mode."""
    ts, schema = man.get("timescaledb"), _timescaledb_schema(man)
    if not ts:
        return
    with db.connection(url) as conn:
        if schema != "public":
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE EXTENSION timescaledb WITH SCHEMA {} VERSION {}").format(
            sql.Identifier(schema), sql.Literal(ts["version"])))
        conn.execute(sql.SQL("SELECT {}.timescaledb_pre_restore()").format(sql.Identifier(schema)))


def _empty_again(admin, url: str, target: Target, before: dict, cluster: citus.Node) -> str | None:
    """After a failed restore into a coordinator: the target dropped on every node (shards included)
    and created again as it was, with Citus, its workers registered and its settings and grants.
    Returns what went wrong, None when it is empty again."""
    nodes = [a.rsplit(":", 1) for a in cluster.workers]
    try:
        for host, port in nodes:
            with _node_admin(url, host, port) as worker:
                _recreate(worker, target, before)
        _recreate(admin, target, before)
        for host, port in nodes:
            with _node_admin(url, host, port, target.name) as worker:
                worker.execute("CREATE EXTENSION citus")
        with db.connection(url) as conn:
            conn.execute("CREATE EXTENSION citus")
            host, port = (cluster.coordinator or "").rsplit(":", 1)
            conn.execute("SELECT citus_set_coordinator_host(%s, %s)", [host, int(port)])
            for host, port in nodes:
                conn.execute("SELECT citus_add_node(%s, %s)", [host, int(port)])
            database_properties(conn, target.name, before)
    except (DbtoolError, psycopg.Error, ValueError) as exc:
        return exc.message if isinstance(exc, DbtoolError) else str(exc).strip().splitlines()[0]
    return None


def _node_admin(url: str, host: str, port: str, dbname: str = "postgres") -> psycopg.Connection:
    """A connection to another node of the cluster with the URL's user and password."""
    return db.connect(pg_conninfo.make_conninfo(db.with_dbname(url, dbname), host=host, port=port))


def _recreate(conn: psycopg.Connection, target: Target, before: dict) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.name)))
    _create_database(conn, target.name, {"database": before}, target)


def _scratch_name(base: str, what: str) -> str:
    suffix = f"_{what}_{secrets.token_hex(3)}"
    head = base.encode()[: 63 - len(suffix)].decode(errors="ignore")
    return head + suffix


def _create_database(admin, name: str, man: dict, target: Target) -> None:
    d = man["database"]
    owner = target.owner if target.exists else d.get("owner")
    if owner and not db.scalar(admin, "SELECT 1 FROM pg_roles WHERE rolname = %s", [owner]):
        owner = None  # the source's owner role is not here: the restoring user owns the new database
    parts = [sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {}").format(
        sql.Identifier(name), sql.Literal(d["encoding"]))]
    if d.get("locale_provider") == "icu":
        parts.append(sql.SQL("LOCALE_PROVIDER icu ICU_LOCALE {}").format(sql.Literal(d["icu_locale"])))
    parts.append(sql.SQL("LC_COLLATE {} LC_CTYPE {}").format(sql.Literal(d["lc_collate"]), sql.Literal(d["lc_ctype"])))
    if owner:
        parts.append(sql.SQL("OWNER {}").format(sql.Identifier(owner)))
    try:
        admin.execute(sql.SQL(" ").join(parts))
    except psycopg.Error as exc:
        raise db.server_error(exc, "cannot create the database to restore into") from None


def _timescaledb_schema(man: dict) -> str | None:
    """Where the archive's TimescaleDB lives, or None when the archive has none."""
    if not man.get("timescaledb"):
        return None
    return next(e["schema"] for e in man["extensions"] if e["name"] == "timescaledb")


def _load(admin, tmp_url: str, tmpdb: str, man: dict, dump: Dump, workdir: Path, progress) -> None:
    ts = man.get("timescaledb")
    schema = _timescaledb_schema(man)
    _load_timescaledb(tmp_url, man)
    database_properties(admin, tmpdb, man["database"])
    toc, total = _toc(dump.listing, workdir, schema if ts and schema != "public" else None)
    progress("step", f"restoring into a temporary database {tmpdb}", {})
    _pg_restore(dump.pg_restore, dump.path, toc, tmp_url, progress, total)


def _post_restore(tmp_url: str, schema: str | None) -> None:
    """TimescaleDB (in `schema`) out of restoring mode, in the temporary database: the copy is
    verified and takes the target's name only in its final state, so nothing after the swap can
    leave the target in restoring mode (where TimescaleDB's background jobs do not run)."""
    if schema is None:
        return
    with db.connection(tmp_url) as conn:
        try:
            conn.execute(sql.SQL("SELECT {}.timescaledb_post_restore()").format(sql.Identifier(schema)))
        except psycopg.Error as exc:
            raise db.server_error(exc, "timescaledb_post_restore() failed in the restored copy") from None


def _pg_restore(pg_restore: str, dump: Path, toc: Path, tmp_url: str, progress, total: int, *,
                section: str | None = None, options: str | None = None,
                hint: str = "the target was not touched; the temporary database was dropped") -> None:
    conninfo, env = tools.libpq(tmp_url)
    if options:  # server settings for pg_restore's session
        env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} {options}".strip()
    # No --jobs: TimescaleDB's catalog must be restored in order.
    cmd = [pg_restore, "--verbose", "--exit-on-error", "--no-password", "--use-list", str(toc),
           *([f"--section={section}"] if section else []), "--dbname", conninfo, str(dump)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tail = tools.follow(proc.stderr, RESTORING, "restoring", total, progress)
    if proc.wait() != 0:
        command = next((ln for ln in tail if ln.startswith("Command was:")), None)
        raise DatabaseFailure(f"pg_restore failed: {tools.last_error(tail, 'pg_restore')}", detail=command, hint=hint)


def database_properties(admin, name: str, d: dict) -> None:
    """What pg_dump leaves out without --create: database settings, grants and comment."""
    ident = sql.Identifier(name)
    for s in d.get("settings", []):
        key, _, value = s["setting"].partition("=")
        if key == "timescaledb.restoring" or not GUC_NAME.fullmatch(key):
            continue
        values = _guc_list(value) if key.lower() in LIST_GUCS else [value]
        val = sql.SQL(", ").join(sql.Literal(v) for v in values)
        who = (sql.SQL("ALTER ROLE {} IN DATABASE {}").format(sql.Identifier(s["role"]), ident) if s.get("role")
               else sql.SQL("ALTER DATABASE {}").format(ident))
        name = sql.SQL(".").join(sql.Identifier(part) for part in key.split("."))
        admin.execute(sql.SQL("{} SET {} = {}").format(who, name, val))
    if d.get("acl") is not None:
        admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))
        for a in d["acl"]:
            grantee = sql.SQL("PUBLIC") if a["grantee"] == "PUBLIC" else sql.Identifier(a["grantee"])
            privilege = sql.SQL(mf.PRIVILEGES[a["privilege"].upper()])  # our keyword, not the manifest's text
            admin.execute(sql.SQL("GRANT {} ON DATABASE {} TO {}{}").format(
                privilege, ident, grantee, sql.SQL(" WITH GRANT OPTION" if a["grantable"] else "")))
    if d.get("comment"):
        admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, sql.Literal(d["comment"])))


def _guc_list(value: str) -> list[str]:
    """Split `"$user", public` the way PostgreSQL stores list settings."""
    return [p.strip().strip('"').replace('""', '"') for p in re.findall(r'(?:"(?:[^"]|"")*"|[^,])+', value)]


def verify(url: str, man: dict, result: RestoreResult) -> None:
    """The restored copy must hold what the manifest says the source held."""
    with db.connection(url) as conn:
        mf.stable_session(conn)
        problems = _table_problems(conn, man["tables"])
        migrations = list(ledger.applied(conn))
        ts = mf.timescaledb(conn)
        extensions = {r[0]: r[1] for r in conn.execute("SELECT extname, extversion FROM pg_extension").fetchall()}
        if man.get("citus"):  # each table distributed as on the source
            problems += distribution.differences(man["citus"]["tables"], distribution.tables(conn))
    if migrations != man["migrations"]:
        problems.append(f"applied migrations differ: {len(migrations)} restored, "
                        f"{len(man['migrations'])} in the manifest")
    want_hyper = (man.get("timescaledb") or {}).get("hypertables", [])
    got_hyper = (ts or {}).get("hypertables", [])
    if sorted(want_hyper) != sorted(got_hyper):
        problems.append(f"hypertables differ: {sorted(set(want_hyper) ^ set(got_hyper))}")
    if problems:
        raise DbtoolError(f"the restored copy does not match the manifest: {problems[0]}"
                          + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
                          detail="\n".join(problems[:20]),
                          hint="the target was not touched; the temporary database was dropped")
    for e in man["extensions"]:
        if e["name"] not in NOT_RESTORED and extensions.get(e["name"]) != e["version"]:
            result.warnings.append(f"extension {e['name']} is {extensions.get(e['name'])}, "
                                   f"the source had {e['version']}")
    result.tables = len(man["tables"])
    result.rows = sum(t["rows"] for t in man["tables"].values())
    result.hypertables = got_hyper
    result.migrations = len(migrations)


def _table_problems(conn, expected: dict) -> list[str]:
    """The manifest's table names are only compared: the tables read are the restored catalog's."""
    restored = mf.tables(conn)
    problems = [f"table {t} is missing" for t in sorted(set(expected) - set(restored))]
    problems += [f"table {t} is not in the manifest" for t in sorted(set(restored) - set(expected))]
    for t in sorted(set(expected) & set(restored)):
        got = mf.fingerprint(conn, t, restored[t])
        if got["rows"] != expected[t]["rows"]:
            problems.append(f"{t}: {got['rows']} rows, the manifest says {expected[t]['rows']}")
        elif got["fingerprint"] != expected[t]["fingerprint"]:
            problems.append(f"{t}: same row count, different content")
    return problems


def _swap(admin, url: str, tmpdb: str, target: Target, progress, result: RestoreResult) -> None:
    """Put the verified copy under the target's name; the old database goes only after that."""
    aside = None
    if target.exists:
        _refuse_sessions(target.name, _other_sessions(admin, target.name))  # again: a refused rename waits 5 s
        aside = _scratch_name(target.name, "replaced")
        try:
            _rename(admin, target.name, aside)
        except psycopg.Error as exc:
            _restart_workers(url)
            raise DbtoolError(f"cannot replace {target.name}: {db.server_error(exc).message}",
                              hint="close the other sessions on that database and run the restore again; "
                                   "the target was not touched") from None
    try:
        _rename(admin, tmpdb, target.name)
    except psycopg.Error as exc:
        if aside:
            _rename(admin, aside, target.name)
        raise db.server_error(exc, f"cannot rename the restored copy to {target.name}") from None
    if aside:
        progress("step", f"dropping the previous {target.name}", {})
        _drop_old(admin, target.name, aside, result)


def _drop_old(admin, name: str, aside: str, result: RestoreResult) -> None:
    """The restore has succeeded once the copy has the target's name: an old copy that cannot be
    dropped is a warning (it only takes space), not a failure."""
    try:
        admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(aside)))
    except psycopg.Error as exc:
        quoted = sql.Identifier(aside).as_string(admin)
        result.warnings.append(f"the previous content of {name} was kept as database {aside}: it could not be "
                               f"dropped ({db.server_error(exc).message}); drop it by hand when it is no longer "
                               f"needed: DROP DATABASE {quoted};")


def _rename(admin, old: str, new: str) -> None:
    admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))


def _restart_workers(url: str) -> str | None:
    """A rename (done or refused) stops the database's TimescaleDB background workers: start them
    again. Returns the reason when that failed."""
    try:
        with db.connection(url) as conn:
            if db.scalar(conn, "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"):
                conn.execute("SELECT _timescaledb_functions.start_background_workers()")
    except DbtoolError as exc:
        return exc.message
    except psycopg.Error as exc:
        return db.server_error(exc).message
    return None


def _drop_quietly(admin, name: str) -> None:
    try:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    except psycopg.Error:
        pass


def _finish(url: str, man: dict, progress, result: RestoreResult, cron_table: str) -> None:
    """After the swap: TimescaleDB's workers (the rename stopped them), pg_cron jobs for the restored database."""
    if man.get("timescaledb"):
        failed = _restart_workers(url)
        if failed:
            result.warnings.append(f"TimescaleDB's background workers for {result.database} could not be started "
                                   f"({failed}); run SELECT _timescaledb_functions.start_background_workers(); "
                                   "in it, or restart the server")
    with db.connection(url) as conn:
        progress("step", "scheduling the cron jobs declared in the restored database", {})
        try:
            result.cron = cron.sync(url, conn, cron_table).as_dict()
        except DbtoolError as exc:
            raise DbtoolError(f"{result.database} is restored and verified, but its cron jobs could not be "
                              f"scheduled: {exc.message}",
                              hint=exc.hint or "fix pg_cron, then run `dbtool migrate`") from None
