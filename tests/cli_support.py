"""The CLI as the tests call it: in-process through Typer's runner, or as the installed script."""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

from dbtool.cli import app

DBTOOL = str(Path(sys.executable).parent / "dbtool")  # the console script of this virtual environment
runner = CliRunner()
# Every way libpq and dbtool find a database, emptied: a run with it has no database unless told one.
NO_DATABASE = {k: "" for k in ("DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGHOSTADDR")}


def run(*args, env=None):
    """`dbtool ARGS` in-process; the result has exit_code, stdout and stderr."""
    return runner.invoke(app, list(args), env=env)
