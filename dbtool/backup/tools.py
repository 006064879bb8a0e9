"""The external programs a backup needs: pg_dump/pg_restore of the right version, and gpg."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from psycopg import conninfo as pg_conninfo

from .. import db
from ..errors import DbtoolError, UsageError


@lru_cache(maxsize=None)
def version_text(program: str) -> str | None:
    """`program --version`, e.g. 'pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)'."""
    try:
        return subprocess.run([program, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return None


def _major(program: str) -> int | None:
    m = re.search(r"\)\s+(\d+)", version_text(program) or "")
    return int(m.group(1)) if m else None


def _candidates(name: str) -> list[str]:
    found = []
    if os.environ.get("PG_BINDIR"):
        found.append(str(Path(os.environ["PG_BINDIR"]) / name))
    found += [str(p) for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}")]
    on_path = shutil.which(name)
    if on_path:
        found.append(on_path)
    return [c for c in dict.fromkeys(found) if os.access(c, os.X_OK)]


def pg_program(name: str, server_major: int) -> str:
    """pg_dump/pg_restore of the server's major version, else the oldest newer one.

    An older pg_dump refuses a newer server, and a newer one writes archives that older
    pg_restore cannot read, so the exact version is preferred."""
    versions = sorted((v, c) for c in _candidates(name) if (v := _major(c)) is not None)
    chosen = os.environ.get("PG_BINDIR") and str(Path(os.environ["PG_BINDIR"]) / name)
    if chosen and (_major(chosen) or 0) >= server_major:  # an explicit choice wins when it can work
        return chosen
    for v, c in versions:
        if v == server_major:
            return c
    for v, c in versions:
        if v > server_major:
            return c
    have = ", ".join(f"{c} ({v})" for v, c in versions) or "none found"
    raise DbtoolError(f"no {name} for PostgreSQL {server_major} or newer ({have})",
                      hint=f"install postgresql-client-{server_major}, or set PG_BINDIR to its bin folder")


def libpq(url: str) -> tuple[str, dict]:
    """A conninfo for a client program and its environment: the password goes in PGPASSWORD,
    never on the command line, where `ps` would show it."""
    params = db.parse(url) if url else {}
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = password
    params.setdefault("application_name", "dbtool")
    return pg_conninfo.make_conninfo(**params), env


def follow(stream, table: "re.Pattern[str]", verb: str, total: int, progress) -> list[str]:
    """Read a client program's --verbose stderr to its end, reporting each table that `table`
    matches as progress; returns the last 30 lines (for last_error)."""
    tail: list[str] = []
    n = 0
    for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        tail = (tail + [line])[-30:]
        m = table.search(line)
        if m:
            n += 1
            progress("table", m.group(1), {"n": n, "of": max(n, total), "verb": verb})
    return tail


def last_error(stderr_lines: list[str], program: str) -> str:
    """The line of a client program's stderr that says what went wrong."""
    for ln in stderr_lines:
        if "error:" in ln:
            return ln.split("error:", 1)[1].strip()
    lines = [ln.strip() for ln in stderr_lines if ln.strip()]
    return lines[-1] if lines else f"{program} failed without a message"


# ----- gpg -------------------------------------------------------------------------------------

def gpg_base() -> list[str]:
    """gpg without a terminal. A key with a passphrase is unlocked with DBTOOL_GPG_PASSPHRASE_FILE."""
    if not shutil.which("gpg"):
        raise UsageError("gpg is not installed", hint="install GnuPG (apt-get install gnupg)")
    cmd = ["gpg", "--batch", "--no-tty", "--yes", "--quiet"]
    if os.environ.get("DBTOOL_GPG_PASSPHRASE_FILE"):
        cmd += ["--pinentry-mode", "loopback", "--passphrase-file", os.environ["DBTOOL_GPG_PASSPHRASE_FILE"]]
    return cmd


def recipient_key(recipient: str) -> str:
    """The fingerprint of the public key a backup will be encrypted to; fails before any dump."""
    res = subprocess.run([*gpg_base(), "--with-colons", "--list-keys", "--", recipient],
                         capture_output=True, text=True)
    fprs = [ln.split(":")[9] for ln in res.stdout.splitlines() if ln.startswith("fpr:")]
    if res.returncode != 0 or not fprs:
        raise UsageError(f"no public key for {recipient!r} in the GnuPG keyring",
                         hint="import the backup public key (gpg --import key.asc), or set GNUPGHOME to the "
                              "keyring that has it")
    return fprs[0]


def encrypt_command(recipient: str, output: Path) -> list[str]:
    # --trust-model always: the operator chose this key explicitly; batch mode cannot ask.
    return [*gpg_base(), "--trust-model", "always", "--encrypt", "--recipient", recipient,
            "--output", str(output)]


def decrypt(src: Path, dst: Path, key_hint: str | None) -> None:
    res = subprocess.run([*gpg_base(), "--decrypt", "--output", str(dst), str(src)],
                         capture_output=True, text=True)
    if res.returncode == 0:
        return
    dst.unlink(missing_ok=True)
    text = res.stderr
    if "No secret key" in text or "no secret key" in text.lower():
        raise DbtoolError(f"cannot decrypt {src.name}: the secret key{' ' + key_hint if key_hint else ''} "
                          "is not in the GnuPG keyring",
                          hint="import the backup private key (gpg --import), or set GNUPGHOME to the keyring "
                               "that has it")
    if "passphrase" in text.lower() or "pinentry" in text.lower():
        raise DbtoolError(f"cannot decrypt {src.name}: the secret key needs a passphrase",
                          hint="put it in a file readable only by you and set DBTOOL_GPG_PASSPHRASE_FILE")
    raise DbtoolError(f"cannot decrypt {src.name}: {_gpg_reason(text)}")


def _gpg_reason(text: str) -> str:
    lines = [ln.removeprefix("gpg: ").strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "gpg failed"
