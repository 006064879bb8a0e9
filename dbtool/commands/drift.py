"""`dbtool drift`: does the live database still match what migrations/ and sql/ say it should be?

Against the committed snapshot of head for the server's TimescaleDB edition (schema/snapshot.yaml,
or schema/snapshot.timescale.yaml on the community edition), when the database is at the version
that file describes; or, with --against-migrations, against a scratch database built from
migrations/ and sql/ up to the live database's applied version, in a throwaway local cluster (or on
the server given with --server-url: never on the live database's server unless told so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import catalog, db, ledger, scratch, snapshots
from ..catalog import Change
from ..config import Project
from ..errors import FINDINGS, DbtoolError, UsageError


@dataclass
class DriftReport:
    database: str
    against: str  # the snapshot file, or "migrations/ at <version>"
    version: str | None
    changes: list[Change] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return bool(self.changes)

    @property
    def exit_code(self) -> int:
        return FINDINGS if self.drift else 0

    def as_dict(self) -> dict:
        return {"database": self.database, "against": self.against, "version": self.version,
                "drift": self.drift, "changes": [c.as_dict() for c in self.changes]}

    def lines(self, quiet: bool = False) -> list[str]:
        shown = [line for c in self.changes for line in c.lines()]
        return shown + [f"{self.database}: {len(self.changes)} difference(s) from {self.against}" if self.drift
                        else f"{self.database}: no drift from {self.against}"]


def drift(url: str | None, project: Project, *, against: Path | None = None, against_migrations: bool = False,
          server_url: str | None = None) -> DriftReport:
    """Compare the database at `url` with a snapshot file, or (`against_migrations`) with what
    migrations/ build at its version, in a throwaway local cluster or on the server of `server_url`."""
    if against and against_migrations:
        raise UsageError("pass either --against FILE or --against-migrations, not both")
    url = db.resolve_url(url)  # None: DATABASE_URL, then the PG* variables (after the options are checked)
    ids = snapshots.migration_ids(project)
    with db.connection(url) as conn:
        database = db.scalar(conn, "SELECT current_database()")
        version = _live_version(conn, project, database, ids)
        edition = snapshots.edition(conn)
        on_citus = snapshots.has_citus(conn)
        major = _major(conn)
    if against_migrations:
        if version is None:
            raise UsageError(f"{database} has no migration applied: there is no version to rebuild",
                             hint="run `dbtool migrate` first, or compare with a file: --against FILE")
        with scratch.server(server_url, project.names("preload")) as build_url:
            if server_url is None:  # this machine's PostgreSQL: it must build what the live server would
                _same_major(build_url, database, major)
            built = snapshots.from_migrations(build_url, project, to=version)
        if server_url is None and edition is not None and built.edition != edition:
            _other_edition(database, edition, built.edition)
        expected = built.data
        where = f"migrations/ at {version} (built in {scratch.where(server_url)})"
    else:
        if server_url is not None:
            raise UsageError("--server-url only makes sense with --against-migrations",
                             hint="it names the server to build the expected schema on")
        committed = snapshots.snapshot_file(project, edition, on_citus)
        if on_citus and not committed.is_file():  # not made yet: the one server's, distribution not compared
            committed = snapshots.snapshot_file(project, edition)
        path = against or committed
        expected = _expected_from_file(path, ids, database, version, edition, committed, project, on_citus)
        where = str(path)
    actual = snapshots.take(url, project).data
    return DriftReport(database, where, version, catalog.diff(expected, actual))


def _major(conn) -> int:
    return int(db.scalar(conn, "SELECT current_setting('server_version_num')")) // 10000


BUILD_ELSEWHERE = ("build it on a server like the live one: --server-url URL (a scratch database is created there "
                   "and dropped; needs CREATEDB), or PG_BINDIR=<bin folder of a matching PostgreSQL> for the local "
                   "cluster")


def _same_major(build_url: str, database: str, major: int) -> None:
    """Refuse a local cluster of another PostgreSQL major version than the live server's: the
    catalog reads differently (default privileges, deparsed expressions), which is not drift."""
    with db.connection(build_url) as conn:
        here = _major(conn)
    if here != major:
        raise UsageError(f"the temporary local cluster runs PostgreSQL {here}, but the server of {database} runs "
                         f"PostgreSQL {major}: their catalogs read differently", hint=BUILD_ELSEWHERE)


def _other_edition(database: str, edition: str, built: str | None) -> None:
    """The migrations build another schema on each TimescaleDB edition (0018 branches on it)."""
    here = f"TimescaleDB's {built!r} edition" if built else "no TimescaleDB"
    raise UsageError(f"the temporary local cluster runs {here}, but the server of {database} runs the {edition!r} "
                     "edition: the migrations build another schema there", hint=BUILD_ELSEWHERE)


def _live_version(conn, project: Project, database: str, ids: list[str]) -> str | None:
    done = ledger.applied(conn)
    unknown = sorted(set(done) - set(ids))
    if unknown:
        raise DbtoolError(f"{database} has migration {unknown[0]} applied, which is not in "
                          f"{project.get('migrations')}/", hint="see `dbtool status`; check out the matching "
                          "revision of the project, or `dbtool repair --forget` it")
    return snapshots.newest(done, ids)


def _label(version: str | None) -> str:
    return version or "no migration applied"


def _expected_from_file(path: Path, ids: list[str], database: str, version: str | None,
                        edition: str | None, committed: Path, project: Project, citus: bool = False) -> dict:
    """The snapshot in `path`, when it was taken at the database's version: the version the file
    records (None: of a database with no migration applied), never assumed."""
    snap = snapshots.read_file(path, edition, citus)
    if snap.edition and edition and snap.edition != edition:  # the migrations build another schema there
        raise UsageError(f"{path.name} is the snapshot of TimescaleDB's {snap.edition!r} edition, but the server of "
                         f"{database} runs the {edition!r} edition",
                         hint=f"compare with {committed.name}, the snapshot of that edition (leave out --against; "
                              f"{snapshots.make_command(edition)} writes it), "
                              "or with `dbtool drift --against-migrations`")
    if snap.version == version:
        return snap.data
    order = {mid: i for i, mid in enumerate(ids)}  # no migration applied comes before every migration
    rank = {None: -1, **order}
    rebuild = (f"`dbtool drift --against-migrations` compares {database} with what migrations/ build at {version}"
               if version else "compare with the snapshot of another database without migrations")
    if snap.version is not None and snap.version not in order:
        raise UsageError(f"{path.name} is the snapshot of {snap.version}, which is not in "
                         f"{project.get('migrations')}/ (and {database} is at {_label(version)})",
                         hint=f"compare with a snapshot of this project's migrations; {rebuild}")
    is_committed = path.resolve() == committed.resolve()
    if rank[version] > rank[snap.version] and is_committed:
        # The database is newer than the committed file: the file was not refreshed after the newest
        # migration(s). The database is not at fault, and `dbtool migrate` would change nothing.
        shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
        at_head = version == (ids[-1] if ids else None)
        raise UsageError(f"{shown} is out of date: it is the snapshot of {_label(snap.version)}, but {database} is "
                         f"at {_label(version)}" + ("" if at_head else f" and migrations/ end at {ids[-1]}"),
                         hint=f"refresh the committed snapshot: {snapshots.make_command(edition, citus)} (or `dbtool snapshot "
                              f"--from-migrations --out {shown}`), and commit it; meanwhile {rebuild}")
    if rank[version] > rank[snap.version]:
        raise UsageError(f"{database} is at {_label(version)}, but {path.name} is the snapshot of "
                         f"{_label(snap.version)}, an older version",
                         hint=f"compare with a snapshot taken at {_label(version)}; or {rebuild}")
    to_head = "`dbtool migrate` brings it to head; " if is_committed and ids and snap.version == ids[-1] else ""
    raise UsageError(f"{database} is at {_label(version)}, but {path.name} is the snapshot of "
                     f"{_label(snap.version)}, a newer version",
                     hint=f"{to_head}{rebuild}")
