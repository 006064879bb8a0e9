"""Printing: human text on stdout, progress on stderr, JSON for CI, and errors in one place."""

from __future__ import annotations

import errno
import json
import os
import sys
import traceback
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from . import db
from .errors import FAILURE, INTERRUPTED, DbtoolError, UsageError

if TYPE_CHECKING:
    from rich.text import Text


class _Console:
    """A rich Console made when something is first printed: importing rich takes longer than
    `dbtool --help` itself, and a usage error or --help never prints through it."""

    def __init__(self, **options):
        self._options, self._console = options, None

    def __getattr__(self, name: str):
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


# Markup off: everything printed is user or server text (file names, PostgreSQL messages, SQL),
# where "[bold]" or "[tool.dbtool]" is text, not a style. Styles come from label().
out = _Console(highlight=False, soft_wrap=True, markup=False)
err = _Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def label(word: str, style: str, rest: str = "") -> Text:
    """`word` in `style`, then `rest` printed literally."""
    from rich.text import Text

    return Text.assemble((word, style), rest)


class _NoError(Exception):
    """Matches nothing: what `except` tests against while psycopg was never imported."""


def _psycopg_error() -> type[Exception]:
    """psycopg.Error once psycopg is loaded; until then no exception can be one (importing the
    driver just to test an exception against it would cost every failing run that never used it)."""
    psycopg = sys.modules.get("psycopg")
    return psycopg.Error if psycopg is not None else _NoError


def _default(o):
    if isinstance(o, (datetime, date)):
        return o.isoformat()
    if isinstance(o, (Decimal, Path)):
        return str(o)
    if hasattr(o, "as_dict"):
        return o.as_dict()
    return repr(o)


def emit_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_default, sort_keys=False) + "\n")


def show(res, as_json: bool = False, quiet: bool = False) -> None:
    """Print a command's result the way it renders itself: `as_dict()` as JSON, or `lines(quiet)` on
    stdout and `remarks()` (notes and warnings, when it has them) on stderr; then exit with its `exit_code` (1 on findings)
    when that is not 0. Every command's result type has these (docs/architecture.md)."""
    if as_json:
        emit_json(res.as_dict())
    else:
        for line in res.lines(quiet):
            out.print(line)
        for remark in res.remarks() if hasattr(res, "remarks") else ():
            err.print(remark)
    code = getattr(res, "exit_code", 0)
    if code:
        raise typer.Exit(code)


@contextmanager
def handled(as_json: bool = False):
    """The one place a DbtoolError becomes `error: ...` / `hint: ...` and an exit code."""
    try:
        yield
    except DbtoolError as e:
        _report(e, as_json)
        raise typer.Exit(e.exit_code) from None
    except _psycopg_error() as e:  # a server error no command anticipated: still one line, no traceback
        _report(db.server_error(e), as_json)
        raise typer.Exit(FAILURE) from None
    except (OSError, UnicodeError) as e:
        failure = _file_error(e)
        _report(failure, as_json)
        raise typer.Exit(failure.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(INTERRUPTED) from None


# A path the user gave that is wrong (missing, a folder, not theirs) is a usage error; a full disk,
# an I/O error or a read-only file system is a failure of the machine, not of the command line.
_USAGE_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG,
                 errno.ELOOP, errno.EEXIST}


def _file_error(e: OSError | UnicodeError) -> DbtoolError:
    where = getattr(e, "filename", None) or "file"
    text = f"{where}: {getattr(e, 'strerror', None) or e}"
    if isinstance(e, UnicodeError) or getattr(e, "errno", None) in _USAGE_ERRNOS:
        return UsageError(text)
    return DbtoolError(text, hint="the system refused it: check free space, the disk, the file system and the "
                                  "file's permissions", exit_code=FAILURE)


def _report(e: DbtoolError, as_json: bool) -> None:
    if os.environ.get("DBTOOL_DEBUG"):
        traceback.print_exc()
    if as_json:
        emit_json({k: db.redact(v) if isinstance(v, str) else v for k, v in e.as_dict().items()})
        return
    err.print(label("error:", "bold red", f" {db.redact(e.message)}"))
    if e.detail:
        for line in e.detail.splitlines():
            err.print(f"  {db.redact(line)}")
    if e.hint:
        err.print(label("hint:", "bold", f" {e.hint}"))


def progress(quiet: bool = False):
    """A progress callback for the engine that prints one line per step on stderr."""
    def report(event: str, subject: str, info: dict) -> None:
        if event == "retry":  # a warning: -q keeps it (the run is stalling someone, or being stalled)
            err.print(label("warning:", "bold yellow", f" {info['message']}"))
            return
        if quiet:
            return
        if event == "apply":
            err.print(f"[{info['n']}/{info['of']}] applying {subject}" +
                      ("" if info.get("transactional", True) else " (non-transactional)"))
        elif event in ("applied", "rolled_back"):
            attempts = info.get("attempts", 1)
            err.print(f"      done in {info['ms']} ms" + (f" (attempt {attempts})" if attempts > 1 else ""))
        elif event == "rollback":
            err.print(f"[{info['n']}/{info['of']}] rolling back {subject}")
        elif event == "repeatables":
            err.print(f"re-applying {info['count']} repeatable object(s)" +
                      (f", dropping {info['drop']}" if info.get("drop") else ""))
        else:
            err.print(f"{event} {subject}".strip())
    return report


def table_progress(quiet: bool = False):
    """The progress callback of backup and restore: `[n/of] verb table` per table, else the step."""
    def report(event: str, subject: str, info: dict) -> None:
        if quiet:
            return
        if event == "table":
            err.print(f"[{info['n']}/{info['of']}] {info['verb']} {subject}")
        else:
            err.print(subject)
    return report


def size(n: int | None) -> str:
    """Bytes as a DBA reads them: 512 B, 3.2 MB."""
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
