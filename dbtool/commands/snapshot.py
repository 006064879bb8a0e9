"""`dbtool snapshot`, and `python -m dbtool.commands.snapshot` (what `make snapshot` runs): the
command over dbtool.snapshots, which drift, baseline and docs use too."""

from __future__ import annotations

import sys
from pathlib import Path

from ..snapshots import (COMMUNITY, DEFAULT_FILE, Snapshot, edition, from_migrations, migration_ids, read_file,
                         snapshot_file, take, write, write_committed)

__all__ = ["COMMUNITY", "DEFAULT_FILE", "Snapshot", "edition", "from_migrations", "main", "migration_ids",
           "read_file", "snapshot_file", "take", "write", "write_committed"]


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
    parser.add_argument("--project", help="the project folder (default: found from here)")
    args = parser.parse_args(argv)
    try:
        with handled():
            path, snap = write_committed(args.server_url or args.database_url or None, load(args.project))
            shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
            err.print(f"wrote {shown} ({sum(len(v) for v in snap.data.values())} objects, version "
                      f"{snap.version or 'none'}, TimescaleDB edition {snap.edition or 'none'})", markup=False)
    except typer.Exit as exc:
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
