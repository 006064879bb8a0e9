"""`dbtool baseline --to ID`: record the migrations up to ID as applied without running them, on a
database that already has their schema (built by hand, restored from elsewhere, or migrated by an
older ledger and then by hand), but only once its catalog is shown to be what they build.

The expected side is the catalog of a scratch database migrated from migrations/ and sql/ up to ID
(`snapshot.from_migrations`, as `drift --against-migrations` builds it: in a throwaway local cluster,
or on the server given as `server_url`, never on the database's own server unless it is given); the
live side is the database's own snapshot. Any difference refuses the baseline and writes nothing,
except:

- pg_cron jobs (kind cron_job) are not compared: they live in the cron database, a restore or a
  database built by hand has none, and the next `dbtool migrate` reconciles them with
  the project's cron table ([tool.dbtool] cron_table), which the migrations fill (and which is compared as data nowhere).
- the objects of repeatable files (sql/): a file is recorded when its object exists and equals what
  the file builds; otherwise it is left unrecorded, so that the next `dbtool migrate` applies it as a
  new file. A difference in the object of a file already recorded with its current checksum is a
  real difference (migrate would not re-apply that file), and refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from .. import catalog, db, ledger, migrations, repeatables, replica, runs, scratch, snapshots
from ..catalog import Change
from ..config import Project
from ..engine import Settings
from ..errors import FINDINGS, DbtoolError, UsageError

NOT_COMPARED = ("cron_job",)  # reconciled by the next migrate, not part of what baseline records


@dataclass
class BaselineResult:
    database: str
    to: str
    dry_run: bool
    recorded: list[str] = field(default_factory=list)  # migration ids recorded (with dry_run: would be)
    already: list[str] = field(default_factory=list)  # ids up to `to` the ledger already had
    accepted: list[dict] = field(default_factory=list)  # as in MigrateResult: edits the files accept
    repeatables: list[str] = field(default_factory=list)  # repeatable files recorded: their objects match
    # repeatable files left for the next migrate: {path, reason} (missing | differs | waits)
    repeatables_left: list[dict] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # non-empty: refused, nothing written
    compared: bool = False  # False when there was nothing to record (no scratch build)

    @property
    def refused(self) -> bool:
        return bool(self.changes)

    @property
    def exit_code(self) -> int:
        return FINDINGS if self.refused else 0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["changes"] = [c.as_dict() for c in self.changes]
        d["refused"] = self.refused
        return d

    def remarks(self) -> list[str]:
        if not self.refused:
            return []
        return [f"error: {self.database} does not match what migrations/ and sql/ build up to {self.to}: "
                f"{len(self.changes)} difference(s) (- built, + this database); nothing was recorded",
                "hint: bring the database to that schema, or baseline --to the migration it does match; pg_cron "
                "jobs and repeatable objects (sql/) are not counted"]

    def lines(self, quiet: bool = False) -> list[str]:
        if self.refused:
            return [line for c in self.changes for line in c.lines()]
        would = "would record" if self.dry_run else "recorded"
        out = (runs.accepted_lines(self.accepted, self.dry_run)
               + [f"{would} {mid} as applied (not run)" for mid in self.recorded]
               + [f"{would} {path} as applied (its object exists)" for path in self.repeatables]
               + [f"left for migrate to apply: {r['path']} ("
                  + ("its object is missing" if r["reason"] == "missing" else "its object differs from the file")
                  + ")" for r in self.repeatables_left if r["reason"] != "waits"])
        waiting = sum(r["reason"] == "waits" for r in self.repeatables_left)
        if waiting:
            out.append(f"{waiting} repeatable file(s) need a migration after {self.to}: migrate applies them then")
        if not self.recorded:
            return out + [f"{self.database}: every migration up to {self.to} is recorded already; nothing to do"]
        return out + [f"{self.database}: {would} {len(self.recorded)} migration(s) up to {self.to} without running "
                      "them" + ("" if self.dry_run else "; `dbtool migrate` applies the rest")]


def baseline(url: str, project: Project, *, to: str, dry_run: bool = False, server_url: str | None = None,
             settings: Settings | None = None) -> BaselineResult:
    """Record migrations up to `to` (id or number) as applied, after comparing catalogs; the expected
    schema is built on `server_url` (a scratch database there), else in a throwaway local cluster.
    Returns the result; `result.refused` (differences listed in `result.changes`) means nothing was
    written. Raises DbtoolError when the ledger conflicts (exit 3): a migration after `to` is
    recorded, or a recorded file was edited or deleted (as migrate refuses); UsageError (exit 2) when
    the scratch server runs another PostgreSQL major version or TimescaleDB edition than the database's."""
    settings = settings or Settings.from_project(project)
    files, reps = runs.load(project)
    target = runs.select_target(files, to)
    to_id = target[-1].id
    with db.connection(url) as conn:
        result = BaselineResult(database=db.scalar(conn, "SELECT current_database()"), to=to_id, dry_run=dry_run)
        replica.refuse_standby(conn, ledger.SCHEMA_ON_PRIMARY)  # --dry-run too, as migrate's
        if not dry_run:  # as migrate --dry-run: a plan only reads
            ledger.lock(conn, settings.lock_wait)
        try:
            done = ledger.applied(conn)
            result.accepted = runs.check_integrity(project, files, done)
            _refuse_later_records(result.database, files, to_id, done)
            result.already = [m.id for m in target if m.id in done]
            todo = [m for m in target if m.id not in done]
            if not todo:  # nothing to record; an accepted edit is left for migrate to record
                result.accepted = []
                return result
            result.changes, keep, left = _compare(url, server_url, project, to_id, reps,
                                                  repeatables.recorded(conn))
            result.compared = True
            if result.changes:
                result.accepted = []
                return result
            result.recorded = [m.id for m in todo]
            result.repeatables = [r.rel for r in keep]
            result.repeatables_left = left
            if not dry_run:
                _write(conn, result, todo, keep)
                ledger.adopt(conn, project.get("owner_role"))
        finally:
            if not dry_run:
                ledger.unlock(conn)
    return result


def _refuse_later_records(database: str, files: list[migrations.Migration], to_id: str,
                          done: dict[str, ledger.Applied]) -> None:
    ids = [m.id for m in files]
    later = [i for i in ids[ids.index(to_id) + 1:] if i in done]
    if later:
        raise DbtoolError(f"{database} already records {later[-1]} as applied, which comes after {to_id}: "
                          "a baseline only adds records up to its migration",
                          hint=f"baseline --to {later[-1]} or later, or see `dbtool status` (to go back, "
                               "`dbtool rollback`)")


def _names(r: repeatables.Repeatable, snap: dict) -> list[tuple[str, str]]:
    """The (kind, name) of the catalog objects a repeatable file defines, in a snapshot."""
    if r.kind == "functions":
        prefix = f"{r.schema}.{r.name}("
        return [("function", n) for n in snap.get("function", {}) if n.startswith(prefix)]
    if r.kind == "views":  # the view and its columns (kind view_column: schema.view.column)
        name = f"{r.schema}.{r.name}"
        views = [(kind, name) for kind in ("view", "continuous_aggregate") if name in snap.get(kind, {})]
        return views + [("view_column", n) for n in snap.get("view_column", {}) if n.startswith(name + ".")]
    name = f"{r.schema}.{r.table}.{r.name}"
    return [("policy", name)] if name in snap.get("policy", {}) else []


def _compare(url: str, server_url: str | None, project: Project, to_id: str,
             reps: list[repeatables.Repeatable], recorded: dict[str, tuple[str, str, str]]):
    """(differences that refuse, repeatable files to record, repeatable files left for migrate)."""
    live = snapshots.take(url, project)
    with db.connection(url) as conn:
        live_server = _server(conn)
    with scratch.server(server_url, project.names("preload")) as build_url:
        _same_build(build_url, server_url, live_server)
        expected = snapshots.from_migrations(build_url, project, to=to_id).data
    actual = live.data
    for snap in (expected, actual):
        for kind in NOT_COMPARED:
            snap.pop(kind, None)
    changes = catalog.diff(expected, actual)
    by_object: dict[tuple[str, str], Change] = {(c.kind, c.name): c for c in changes}
    tolerated: set[tuple[str, str]] = set()
    keep, left = [], []
    for r in reps:
        want, have = _names(r, expected), _names(r, actual)
        objects = set(want) | set(have)
        differs = [o for o in objects if o in by_object]
        current = r.rel in recorded and recorded[r.rel][2] == r.checksum
        if want and not differs:
            if not current:
                keep.append(r)
            continue
        if current and have:  # migrate would not re-apply this file: its object is drift
            continue
        tolerated |= set(differs)
        reason = "waits" if not want else "missing" if not have else "differs"
        left.append({"path": r.rel, "reason": reason})
    return [c for c in changes if (c.kind, c.name) not in tolerated], keep, left


def _server(conn) -> tuple[int, str | None]:
    """(PostgreSQL major version, TimescaleDB edition or None) of a connection's server."""
    return (int(db.scalar(conn, "SELECT current_setting('server_version_num')")) // 10000,
            snapshots.edition(conn))


def _same_build(build_url: str, server_url: str | None, live: tuple[int, str | None]) -> None:
    """Refuse to compare with a schema built by another PostgreSQL major version or TimescaleDB
    edition than the database's: the migrations build another schema there (0018 branches on the
    edition), and the catalog reads differently (default privileges, deparsed expressions)."""
    with db.connection(build_url) as conn:
        built = _server(conn)
    what = []
    if built[0] != live[0]:
        what.append(f"PostgreSQL {live[0]}, but {scratch.where(server_url)} runs {built[0]}")
    if live[1] and built[1] and live[1] != built[1]:
        what.append(f"TimescaleDB's {live[1]!r} edition, but {scratch.where(server_url)} runs {built[1]!r}")
    if what:
        raise UsageError(f"the database runs {'; and '.join(what)}: the migrations would build another schema "
                         "there", hint="pass --server-url URL of a server like the database's (needs CREATEDB "
                                       "there; its own server will do)")


def _write(conn, result: BaselineResult, todo: list[migrations.Migration],
           keep: list[repeatables.Repeatable]) -> None:
    """The records, their dbtool.log rows and any accepted checksums, in one transaction."""
    note = f"not run: the catalog matched migrations/ and sql/ up to {result.to}"
    with conn.transaction():
        ledger.ensure(conn)
        for a in result.accepted:
            ledger.accept_checksum(conn, a["id"], a["recorded"], a["checksum"], a["reason"])
        for m in todo:
            ledger.record_baseline(conn, m, note)
        for r in keep:
            identity = ";".join(repeatables.identities(conn, r))
            conn.execute(sql.SQL(
                """INSERT INTO {}.repeatables (path, kind, identity, checksum) VALUES (%s, %s, %s, %s)
                   ON CONFLICT (path) DO UPDATE SET identity = EXCLUDED.identity, checksum = EXCLUDED.checksum,
                     applied_at = clock_timestamp()""").format(sql.Identifier(ledger.SCHEMA)),
                [r.rel, r.kind, identity, r.checksum])
            ledger.log(conn, "baseline", r.rel, r.checksum, note)
