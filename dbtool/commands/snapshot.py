"""`dbtool snapshot`, and `python -m dbtool.commands.snapshot` (what `make snapshot` runs): the
command over dbtool.snapshots, which drift, baseline and docs use too."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .. import db, snapshots
from ..config import Project
from ..errors import UsageError
from ..snapshots import (COMMUNITY, DEFAULT_FILE, Snapshot, edition, from_migrations, migration_ids, read_file,
                         snapshot_file, take, write, write_committed)

__all__ = ["COMMUNITY", "DEFAULT_FILE", "Snapshot", "Taken", "edition", "from_migrations", "main", "migration_ids",
           "read_file", "run", "snapshot_file", "take", "write", "write_committed"]


@dataclass
class Taken:
    """A snapshot and its text (YAML, or JSON), written to `out` or left for stdout."""

    snap: Snapshot
    text: str
    out: Path | None

    def lines(self, quiet: bool = False) -> list[str]:
        return []  # the text itself goes to stdout unchanged (`text`), never through the console

    def remarks(self) -> list[str]:
        if self.out is None:
            return []
        return [f"wrote {self.out} ({sum(len(v) for v in self.snap.data.values())} objects, version "
                f"{self.snap.version or 'none'})"]


def run(project: Project, *, out: Path | None = None, from_migrations: bool = False, server_url: str | None = None,
        database_url: str | None = None, as_json: bool = False) -> Taken:
    """`dbtool snapshot`: of the live database, or (`from_migrations`) of what migrations/ and sql/ build."""
    if from_migrations and database_url is not None:
        raise UsageError("--from-migrations reads no database: it builds the schema in a throwaway local cluster",
                         hint="to build it in a scratch database on that server instead (needs CREATEDB there), "
                              "pass --server-url URL")
    if server_url is not None and not from_migrations:
        raise UsageError("--server-url only makes sense with --from-migrations",
                         hint="it names the server to build the schema on; the live database is --database-url")
    snap = (snapshots.from_migrations(server_url, project) if from_migrations
            else take(db.resolve_url(database_url), project))
    return Taken(snap, write(snap, out, as_json=as_json), out)


def main(argv: list[str] | None = None) -> int:
    """`python -m dbtool.commands.snapshot [--server-url URL] [--project DIR]`: what `make snapshot`
    runs. Writes the committed snapshot of the edition of the server it builds on."""
    import argparse

    import typer

    from ..config import load
    from ..output import err, handled

    parser = argparse.ArgumentParser(prog="python -m dbtool.commands.snapshot", description=main.__doc__)
    parser.add_argument("--server-url", help="build in a scratch database on this server (default: a "
                        "temporary local cluster of PG_BINDIR's PostgreSQL)")
    parser.add_argument("--database-url", help=argparse.SUPPRESS)  # the earlier name of --server-url
    parser.add_argument("--citus", action="store_true", help="build in a temporary Citus coordinator with two "
                        "workers of PG_BINDIR's PostgreSQL (which must have Citus) and write the Citus snapshot "
                        "(schema/snapshot.citus.yaml): what `make snapshot-citus` runs")
    parser.add_argument("--project", help="the project folder (default: found from here)")
    args = parser.parse_args(argv)
    try:
        with handled():
            if args.citus and (args.server_url or args.database_url):
                raise UsageError("--citus builds in a temporary Citus cluster of its own: leave --server-url out")
            path, snap = write_committed(args.server_url or args.database_url or None, load(args.project),
                                         citus=args.citus)
            shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
            err.print(f"wrote {shown} ({sum(len(v) for v in snap.data.values())} objects, version "
                      f"{snap.version or 'none'}, TimescaleDB edition {snap.edition or 'none'}"
                      f"{', Citus coordinator' if snap.citus else ''})", markup=False)
    except typer.Exit as exc:
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
