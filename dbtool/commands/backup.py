"""`dbtool backup`: pg_dump in custom format plus a manifest; optional gpg and S3; list and prune.

The dump and the manifest's row counts and fingerprints come from one snapshot: dbtool opens a
REPEATABLE READ transaction, exports its snapshot to pg_dump (--snapshot) and reads the tables in
that same snapshot while pg_dump runs, so the manifest describes exactly the archive, however busy
the database is. Files appear atomically: the archive is written as NAME.partial and renamed, and
the manifest is written last, so a backup with a manifest is complete (on S3 too: the manifest is
uploaded after the archive).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
from psycopg import sql

from .. import db, runs
from ..backup import distribution
from ..backup import manifest as mf
from ..backup import storage, tools
from ..backup.storage import S3Prefix
from ..config import Project
from ..engine import Progress, silent
from ..errors import DbtoolError, UsageError
from ..output import size

LOCK_WAIT = "60s"  # how long pg_dump and dbtool wait for a table behind an ALTER TABLE

# The tables pg_dump will write data for: ordinary tables that are not extension members, plus
# the extensions' configuration tables. Only used to say "table 12 of 40".
DATA_TABLES_SQL = r"""
SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e'))
     + (SELECT count(*) FROM pg_extension e, unnest(e.extconfig) x JOIN pg_class c ON c.oid = x
        WHERE c.relkind = 'r')"""


def default_dir() -> Path:
    return Path(os.environ.get("DBTOOL_BACKUP_DIR") or "backups")


@dataclass
class BackupResult:
    database: str
    archive: str
    manifest: str
    bytes: int
    sha256: str
    tables: int
    rows: int
    encrypted_to: str | None = None
    uploaded: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self, quiet: bool = False) -> list[str]:
        summary = [f"{self.database}: backed up {self.tables} tables, {self.rows} rows to {self.archive} "
                   f"({size(self.bytes)}{', encrypted to ' + self.encrypted_to if self.encrypted_to else ''})"]
        if quiet:
            return summary
        kept_here = self.archive not in self.uploaded  # else the uploaded copies are the backup itself
        return summary + [f"manifest: {self.manifest}"] + [f"uploaded {u}" for u in self.uploaded if kept_here]


def backup(url: str, out: str | Path | None = None, *, encrypt_to: str | None = None,
           upload: str | None = None, storage_class: str | None = None,
           progress: Progress = silent) -> BackupResult:
    """Dump the database at `url` into `out` (default: DBTOOL_BACKUP_DIR or ./backups), or only to
    S3 when `upload` is given without `out`."""
    remote = _remote(upload, storage_class)
    key = tools.recipient_key(encrypt_to) if encrypt_to else None  # fail before dumping anything
    umask = os.umask(0o077)  # a backup holds every tenant's data: readable by its owner only
    try:
        return _backup(url, out, remote, encrypt_to, key, storage_class, progress)
    finally:
        os.umask(umask)


def _backup(url, out, remote, encrypt_to, key, storage_class, progress) -> BackupResult:
    with tempfile.TemporaryDirectory(prefix="dbtool-backup-") as tmp:
        folder = Path(out) if out else (Path(tmp) if remote else default_dir())
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the backup folder {folder}: {exc.strerror}") from None
        with db.connection(url) as conn:
            man, archive = _dump(conn, url, folder, encrypt_to, key, progress)
        manifest_path = folder / (mf.stem_of(archive.name) + mf.MANIFEST)
        _write_atomically(manifest_path, mf.dumps(man))
        result = BackupResult(database=man["database"]["name"], archive=str(archive), manifest=str(manifest_path),
                              bytes=man["archive"]["bytes"], sha256=man["archive"]["sha256"],
                              tables=len(man["tables"]), rows=sum(t["rows"] for t in man["tables"].values()),
                              encrypted_to=encrypt_to)
        if remote:
            _upload(remote, archive, manifest_path, storage_class, progress, result)
            if not out:
                result.archive, result.manifest = result.uploaded
    return result


def _remote(upload: str | None, storage_class: str | None) -> S3Prefix | None:
    if storage_class and not upload:
        raise UsageError("--storage-class needs --upload s3://bucket/prefix")
    if not upload:
        return None
    remote = storage.parse(upload)
    if not isinstance(remote, S3Prefix):
        raise UsageError(f"--upload {upload}: expected s3://bucket/prefix",
                         hint="use --out DIR for a local folder")
    return remote


def _suffix(encrypt_to: str | None) -> str:
    return mf.ENCRYPTED if encrypt_to else mf.ARCHIVE


def _dump(conn: psycopg.Connection, url: str, folder: Path, recipient: str | None, key: str | None,
          progress: Progress) -> tuple[dict, Path]:
    mf.stable_session(conn)
    at = mf.now_utc()
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
        man = mf.describe(conn)
        citus = distribution.describe(conn)  # how a coordinator's tables are distributed: not in the dump
        if citus:
            man["citus"] = citus
        tables = mf.tables(conn)
        if tables:  # no DROP or ALTER between our reads and pg_dump's (it takes the same locks)
            conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(
                sql.SQL(", ").join(sql.Identifier(*parts) for parts in tables.values())))
        snapshot = db.scalar(conn, "SELECT pg_export_snapshot()")
        total = db.scalar(conn, DATA_TABLES_SQL)
        pg_dump = tools.pg_program("pg_dump", man["server_version_num"] // 10000)
        suffix = _suffix(recipient)
        final = _unique(folder / (mf.stem_for(man["database"]["name"], at) + suffix), suffix)
        partial = final.with_name(final.name + mf.PARTIAL)
        progress("step", f"dumping {man['database']['name']} to {final}", {})
        dump = _Dump(pg_dump, url, snapshot, partial, recipient, progress, total)
        try:
            man["tables"] = {t: mf.fingerprint(conn, t, parts) for t, parts in tables.items()}  # while pg_dump runs
            dump.wait()
        except BaseException:  # including Ctrl-C: no pg_dump left running, no partial file left
            dump.abort()
            raise
    os.replace(partial, final)
    man["created_at"] = at.isoformat().replace("+00:00", "Z")
    man["pg_dump_version"] = tools.version_text(pg_dump)  # already run to choose pg_dump
    size = final.stat().st_size
    man["archive"] = {"file": final.name, "bytes": size, "sha256": mf.sha256_file(final),
                      "encrypted_to": recipient, "key_fingerprint": key}
    man["dump"] = {"bytes": dump.plain_bytes or size,
                   "sha256": dump.plain_sha256 or man["archive"]["sha256"]}
    return _ordered(man), final


def _ordered(man: dict) -> dict:
    first = ["format", "created_at", "dbtool_version", "database", "server_version", "server_version_num",
             "pg_dump_version", "archive", "dump"]
    return {**{k: man[k] for k in first}, **{k: v for k, v in man.items() if k not in first}}


def _unique(path: Path, suffix: str) -> Path:
    """Two backups in the same second get NAME-2: never overwrite an archive."""
    n, candidate = 1, path
    while candidate.exists() or candidate.with_name(candidate.name + mf.PARTIAL).exists():
        n += 1
        candidate = path.with_name(f"{path.name[: -len(suffix)]}-{n}{suffix}")
    return candidate


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + mf.PARTIAL)
    tmp.write_text(text)
    os.replace(tmp, path)


class _Dump:
    """pg_dump running beside us: its --verbose lines become progress, its output goes to a file,
    or through a hash into gpg so that an encrypted backup never exists in plain text on disk."""

    TABLE = re.compile(r'dumping contents of table "(.+)"')

    def __init__(self, pg_dump: str, url: str, snapshot: str, output: Path, recipient: str | None,
                 progress: Progress, total: int):
        conninfo, env = tools.libpq(url)
        cmd = [pg_dump, "--format=custom", "--verbose", "--no-password", f"--snapshot={snapshot}",
               f"--lock-wait-timeout={LOCK_WAIT}", "--dbname", conninfo]
        self.output, self.progress, self.total = output, progress, total
        self.stderr: list[str] = []
        self.plain_sha256: str | None = None
        self.plain_bytes = 0
        self.gpg = None
        if recipient:
            self.gpg = subprocess.Popen(tools.encrypt_command(recipient, output), stdin=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
            self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        else:
            self.proc = subprocess.Popen([*cmd, f"--file={output}"], env=env, stderr=subprocess.PIPE)
        self.threads = [threading.Thread(target=self._read_stderr, daemon=True)]
        if self.gpg:
            self.threads.append(threading.Thread(target=self._pump, daemon=True))
        for t in self.threads:
            t.start()

    def _read_stderr(self) -> None:  # wait() reads self.stderr only after joining this thread
        self.stderr = tools.follow(self.proc.stderr, self.TABLE, "dumping", self.total, self.progress)

    def _pump(self) -> None:
        h = hashlib.sha256()
        try:
            for chunk in iter(lambda: self.proc.stdout.read(1 << 20), b""):
                h.update(chunk)
                self.plain_bytes += len(chunk)
                self.gpg.stdin.write(chunk)
        except BrokenPipeError:  # gpg died; its exit code says why
            self.proc.kill()
        finally:
            try:
                self.gpg.stdin.close()
            except BrokenPipeError:
                pass
        self.plain_sha256 = h.hexdigest()

    def wait(self) -> None:
        rc = self.proc.wait()
        for t in self.threads:
            t.join()
        gpg_rc = self.gpg.wait() if self.gpg else 0
        if rc != 0:
            self.output.unlink(missing_ok=True)
            raise DbtoolError(f"pg_dump failed: {tools.last_error(self.stderr, 'pg_dump')}")
        if gpg_rc != 0:
            self.output.unlink(missing_ok=True)
            msg = self.gpg.stderr.read().decode(errors="replace").strip().splitlines()
            raise DbtoolError(f"gpg could not encrypt the backup: {(msg or ['gpg failed'])[-1]}")

    def abort(self) -> None:
        for p in (self.proc, self.gpg):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        for t in self.threads:
            t.join(timeout=5)
        self.output.unlink(missing_ok=True)


def _upload(remote: S3Prefix, archive: Path, manifest_path: Path, storage_class: str | None,
            progress: Progress, result: BackupResult) -> None:
    progress("step", f"uploading {archive.name} to {remote}", {})
    remote.put(archive, archive.name, storage_class)
    remote.put(manifest_path, manifest_path.name)  # last: a manifest means the backup is complete
    result.uploaded = [remote.url(archive.name), remote.url(manifest_path.name)]


# ----- list and prune --------------------------------------------------------------------------

@dataclass
class BackupSet:
    """One backup in a location: its archive, its manifest, and leftovers of an interrupted run."""

    stem: str
    files: list[storage.Entry] = field(default_factory=list)
    manifest: dict | None = None

    @property
    def archive(self) -> storage.Entry | None:
        return next((f for f in self.files if f.name.endswith((mf.ARCHIVE, mf.ENCRYPTED))), None)

    @property
    def created(self) -> datetime:
        when = mf.created_at(self.manifest) if self.manifest else None
        return when or max(f.modified for f in self.files)

    @property
    def database(self) -> str:
        if self.manifest:
            return self.manifest["database"]["name"]
        return self.stem.rsplit("_", 1)[0]

    @property
    def complete(self) -> bool:
        return self.manifest is not None and self.archive is not None

    def as_dict(self, where) -> dict:
        a = self.archive
        return {"name": self.stem, "database": self.database, "created_at": self.created.isoformat(),
                "complete": self.complete, "encrypted": bool(a and a.name.endswith(mf.ENCRYPTED)),
                "bytes": a.size if a else None, "archive": where.url(a.name) if a else None,
                "files": [f.name for f in self.files]}


def scan(where) -> list[BackupSet]:
    """The backups in a folder or S3 prefix, oldest first. Files that are not backups are ignored."""
    sets: dict[str, BackupSet] = {}
    for entry in where.list():
        stem = mf.stem_of(entry.name)
        if stem is not None:
            sets.setdefault(stem, BackupSet(stem)).files.append(entry)
    for s in sets.values():
        if any(f.name == s.stem + mf.MANIFEST for f in s.files):
            try:
                s.manifest = mf.parse(where.read_text(s.stem + mf.MANIFEST), s.stem + mf.MANIFEST)
            except UsageError:
                s.manifest = None  # unreadable: dated by the files' times instead
    return sorted(sets.values(), key=lambda s: (s.created, s.stem))


class Listed(list):
    """The backups of a location as `backup list` shows them (a list of their dicts)."""

    def as_dict(self) -> list[dict]:
        return list(self)

    def lines(self, quiet: bool = False) -> list[str]:
        shown = []
        for r in self:
            flags = " ".join(f for f, on in (("encrypted", r["encrypted"]), ("incomplete", not r["complete"])) if on)
            shown.append(f"{r['created_at']}  {size(r['bytes']):>9}  {r['name']}  {flags}".rstrip())
        return shown or ["no backups"]


def list_backups(location: str | None = None) -> Listed:
    """The backups in `location` (default: DBTOOL_BACKUP_DIR, else ./backups), oldest first."""
    where = storage.parse(location or str(default_dir()))
    return Listed(s.as_dict(where) for s in scan(where))


@dataclass
class PruneResult:
    location: str
    dry_run: bool
    deleted: list[dict] = field(default_factory=list)
    kept: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self, quiet: bool = False) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        return ([f"{verb} {d['name']} ({d['created_at']})" for d in self.deleted]
                + [f"{self.location}: {len(self.deleted)} backup(s) {'to delete' if self.dry_run else 'deleted'}, "
                   f"{self.kept} kept"])


def prune(location: str, keep_days: int, *, keep_last: int = 1, dry_run: bool = False,
          now: datetime | None = None) -> PruneResult:
    """Delete backups older than keep_days (by the manifest's created_at, else the files' times),
    but always keep the newest keep_last complete backups of each database: if backups stop
    running, pruning must not delete the last good one."""
    if keep_days < 0 or keep_last < 0:
        raise UsageError("--keep-days and --keep-last must be 0 or more")
    where = storage.parse(location)
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=keep_days)
    sets = scan(where)
    protected = _newest_complete(sets, keep_last)
    result = PruneResult(location=str(where), dry_run=dry_run)
    doomed = [s for s in sets if s.created < cutoff and s.stem not in protected]
    result.kept = len(sets) - len(doomed)
    for s in doomed:
        result.deleted.append({"name": s.stem, "database": s.database, "created_at": s.created.isoformat(),
                               "files": [f.name for f in s.files]})
    if not dry_run:
        # Manifests first: a set without its manifest is no longer offered as a complete backup.
        names = [f.name for s in doomed for f in s.files]
        where.delete(sorted(names, key=lambda n: not n.endswith(mf.MANIFEST)))
    return result


def _newest_complete(sets: list[BackupSet], keep_last: int) -> set[str]:
    by_db: dict[str, list[BackupSet]] = {}
    for s in sets:
        if s.complete:
            by_db.setdefault(s.database, []).append(s)
    return {s.stem for group in by_db.values() for s in group[-keep_last:] if keep_last}


def backup_first(url: str, project: Project, to: str | None, backup_dir: str | None, progress=None) -> str | None:
    """migrate --backup-first: a backup, but only when the run will change something; its path."""
    plan = runs.migrate(url, project, to=to, dry_run=True)
    if not (plan.applied or plan.repeatables or plan.repeatables_dropped):
        return None
    return str(backup(url, backup_dir or default_dir(), progress=progress).archive)
