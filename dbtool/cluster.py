"""Local PostgreSQL clusters: finding the binaries and running pg_ctl as a user the server accepts."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from .errors import DatabaseFailure, DbtoolError

WRAPPER = Path(__file__).parent / "data" / "pg_ctl_runas"
# The M&A schema's [tool.dbtool] preload, for the clusters its tests and benchmarks start (dbtool itself
# reads a project's own list).
PRELOAD = "pg_stat_statements,pg_cron,timescaledb,pgaudit"


def find_bindir() -> Path:
    """PG_BINDIR, the newest /usr/lib/postgresql/N/bin, or the folder of pg_ctl on PATH."""
    if os.environ.get("PG_BINDIR"):  # an explicit choice is not second-guessed
        given = Path(os.environ["PG_BINDIR"])
        if (given / "pg_ctl").is_file() and (given / "postgres").is_file():
            return given
        raise DbtoolError(f"no PostgreSQL server binaries (pg_ctl, postgres) in PG_BINDIR={given}",
                          hint="point PG_BINDIR at the folder holding pg_ctl, or unset it")
    candidates = []
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    candidates += versions
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for c in candidates:
        if (c / "pg_ctl").is_file() and (c / "postgres").is_file():
            return c
    raise DbtoolError("no PostgreSQL server binaries found (pg_ctl, postgres)",
                      hint="run `make setup` (scripts/install-postgres.sh), or set PG_BINDIR to the folder holding pg_ctl")


def server_user() -> str:
    """The OS user that runs the server: us, or DBTOOL_PG_USER (default postgres) when we are root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    user = os.environ.get("DBTOOL_PG_USER", "postgres")
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise DbtoolError(f"running as root, but there is no system user {user!r} to run PostgreSQL as",
                          hint="install postgresql-common (make setup) or set DBTOOL_PG_USER to an unprivileged user") from None
    return user


def server_uid() -> int | None:
    """The uid files must belong to for the server to use them; None when we are that user."""
    return pwd.getpwnam(server_user()).pw_uid if os.geteuid() == 0 else None


def write_private(path: Path, text: str, owner: int | None = None) -> None:
    """`text` in `path`, readable by its owner only from the first byte whatever the umask: a new
    private file (O_EXCL, mode 0600) beside it, renamed over `path`, so a reader never sees it
    half-written or open to others, and a link planted at `path` is replaced, not written through.
    With `owner` (a uid), the file is given to that user before anything is written in it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)  # mkstemp's mode, minus whatever the umask removed
            if owner is not None:
                os.fchown(f.fileno(), owner, -1)
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pg_ctl(*args: str, timeout: int = 120, bindir: Path | None = None) -> subprocess.CompletedProcess:
    """pg_ctl of `bindir` (default: find_bindir()), as a user the server accepts."""
    env = {**os.environ, "PG_BINDIR": str(bindir or find_bindir()), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    return subprocess.run([str(WRAPPER), *args], env=env, capture_output=True, text=True, timeout=timeout)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_owner(datadir: Path) -> None:
    """A data folder owned by someone else cannot be started by us: say so instead of failing later."""
    owner = pwd.getpwuid(datadir.stat().st_uid).pw_name
    expected = server_user()
    if owner != expected:
        me = pwd.getpwuid(os.geteuid()).pw_name
        raise DbtoolError(f"data folder {datadir} is owned by {owner!r}, but the server would run as {expected!r}",
                          hint=f"run as root or as {owner!r}, or remove the folder (you are {me!r})")


def initdb(datadir: Path, superuser: str = "postgres", pwfile: Path | None = None, bindir: Path | None = None) -> None:
    """Without pwfile, trust (throwaway clusters on a private port); with one, scram over TCP."""
    auth = f"--auth=scram-sha-256 --pwfile={pwfile}" if pwfile else "--auth=trust"
    res = pg_ctl("initdb", "-D", str(datadir), "-s",
                 "-o", f"--username={superuser} {auth} --encoding=UTF8 --locale=C.UTF-8", bindir=bindir)
    if res.returncode != 0:
        raise DatabaseFailure(f"initdb failed for {datadir}: {_last_line(res.stderr)}")


def base_backup(datadir: Path, conninfo: str, slot: str, bindir: Path | None = None) -> None:
    """A standby in `datadir` (which must not exist) from the primary `conninfo` names: pg_basebackup
    with its own physical slot (-C -S: the primary keeps WAL for it from the backup's first byte) and
    -R (standby.signal, primary_conninfo, primary_slot_name). Run as the server's OS user, so that
    every file is that user's from the start and the walreceiver can read the passfile conninfo names."""
    exe = str((bindir or find_bindir()) / "pg_basebackup")
    argv = [exe, "-D", str(datadir), "-d", conninfo, "-R", "-C", "-S", slot, "-X", "stream",
            "--checkpoint=fast", "--no-sync"]  # a local copy the next `dev up` can make again: no fsync
    if os.geteuid() == 0:
        argv = ["runuser", "-u", server_user(), "--", *argv]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd="/",
                         env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})
    if res.returncode != 0:
        raise DatabaseFailure(f"pg_basebackup failed for {datadir}: {_last_line(res.stderr)}",
                              hint="pg_basebackup removed what it had copied: fix the cause, run it again")


def is_running(datadir: Path, bindir: Path | None = None) -> bool:
    return datadir.is_dir() and pg_ctl("status", "-D", str(datadir), bindir=bindir).returncode == 0


def start(datadir: Path, port: int, logfile: Path, options: str = "", bindir: Path | None = None) -> None:
    if port_in_use(port):
        raise DbtoolError(f"port {port} is already in use by another program",
                          hint="pass --port with a free port, or stop the program using it")
    res = pg_ctl("start", "-D", str(datadir), "-w", "-t", "60", "-l", str(logfile),
                 "-o", f"-p {port} {options}".strip(), bindir=bindir)
    if res.returncode != 0:
        tail = _log_tail(logfile)
        raise DatabaseFailure(f"PostgreSQL did not start: {tail or _last_line(res.stderr)}",
                              hint=f"see {logfile}")


def stop(datadir: Path, bindir: Path | None = None) -> None:
    res = pg_ctl("stop", "-D", str(datadir), "-m", "fast", "-w", bindir=bindir)
    if res.returncode != 0 and is_running(datadir, bindir):
        raise DatabaseFailure(f"could not stop the server in {datadir}: {_last_line(res.stderr)}")


def _log_tail(logfile: Path) -> str:
    try:
        lines = [ln for ln in logfile.read_text(errors="replace").splitlines() if "FATAL" in ln or "ERROR" in ln]
    except OSError:
        return ""
    return lines[-1].split(":  ", 1)[-1] if lines else ""


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"
