"""A stanza's home: pgbackrest.conf, its secrets, and the folders pgBackRest writes (log, lock,
spool, the local repository), all under a dbtool folder instead of /etc so that each cluster (and
each test) has its own. Every pgbackrest process runs as the server's OS user: it reads and writes
the data folder, and archive_command runs as that user anyway."""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from .. import cluster
from ..errors import DatabaseFailure, DbtoolError, UsageError

PASS_ENV = "DBTOOL_PITR_CIPHER_PASS"
ARCHIVE_TIMEOUT = 60  # seconds: a WAL segment at least every minute, well inside the 5-minute RPO
RETENTION_FULL_DAYS = 30
# pgBackRest keeps WAL by backups, not by days: with 4 backups a day (the schedule), the WAL of the
# newest 28 (7 days) stays replayable to any moment; older backups keep only what makes them consistent.
RETENTION_ARCHIVE_INCR = 28
STANZA_RE = re.compile(r"^[A-Za-z0-9_-]{1,63}$")


@dataclass
class Stanza:
    """What dbtool remembers about a configured stanza (`<base>/<name>.json`, ours alone)."""
    name: str
    base: Path
    data_dir: Path
    port: int
    url: str
    repo: str = "local"
    log_file: str = ""  # where pg_ctl restart sends the server's output
    extra: dict = field(default_factory=dict)

    @property
    def home(self) -> Path:
        """The server user's folder: config, secrets, log, lock, spool, local repository."""
        return self.base / self.name

    @property
    def state_file(self) -> Path:
        return self.base / f"{self.name}.json"

    def pgbackrest_argv(self, *args: str) -> list[str]:
        return ["pgbackrest", f"--config-path={self.home}", f"--stanza={self.name}", *args]

    def archive_command(self) -> str:
        return " ".join(shlex.quote(a) for a in self.pgbackrest_argv("archive-push")) + " %p"

    def save(self) -> None:
        d = {**asdict(self), "base": str(self.base), "data_dir": str(self.data_dir)}
        cluster.write_private(self.state_file, json.dumps(d, indent=2) + "\n")


def check_name(name: str) -> str:
    if not STANZA_RE.match(name):
        raise UsageError(f"bad stanza name {name!r}", hint="letters, digits, '_' and '-' only")
    return name


def load(base: Path, name: str) -> Stanza:
    path = base / f"{check_name(name)}.json"
    if not path.is_file():
        raise UsageError(f"no PITR stanza {name!r} in {base}",
                         hint="run `dbtool pitr setup` first (or pass --stanza / --home as given to setup)")
    d = json.loads(path.read_text())
    return Stanza(**{**d, "base": Path(d["base"]), "data_dir": Path(d["data_dir"])})


def require_pgbackrest() -> None:
    if shutil.which("pgbackrest") is None:
        raise DbtoolError("pgbackrest is not installed",
                          hint="run `make setup` (scripts/install-postgres.sh installs Debian's pgbackrest)")


def make_home(st: Stanza) -> None:
    """The home and its folders belong to the server's user (it writes logs, locks and the
    repository from archive_command); the folders above only need to be traversable."""
    st.base.mkdir(parents=True, exist_ok=True)
    uid = cluster.server_uid()
    for sub in ("", "conf.d", "log", "lock", "spool", "repo", "run"):
        d = st.home / sub
        d.mkdir(mode=0o700, exist_ok=True)
        if uid is not None:
            os.chown(d, uid, -1)
    if uid is not None:
        _traversable(st.home)


def _traversable(path: Path) -> None:
    for p in path.parents:
        if p == Path("/"):
            break
        mode = p.stat().st_mode
        if not mode & 0o001:
            os.chmod(p, mode | 0o001)


def write_config(st: Stanza, socket_dir: str, s3: dict | None = None) -> None:
    cluster.write_private(st.home / "pgbackrest.conf", _config_text(st, socket_dir, s3), owner=cluster.server_uid())
    _write_secrets(st, s3)


def _config_text(st: Stanza, socket_dir: str, s3: dict | None) -> str:
    h = st.home
    lines = ["# written by dbtool pitr setup; secrets are in conf.d/secrets.conf (mode 0600)", "[global]"]
    if s3:
        lines += [f"repo1-{k}={v}" for k, v in s3["options"].items()]
    else:
        lines.append(f"repo1-path={h / 'repo'}")
    lines += [
        "repo1-cipher-type=aes-256-cbc",
        "repo1-retention-full-type=time",
        f"repo1-retention-full={RETENTION_FULL_DAYS}",
        "repo1-retention-archive-type=incr",
        f"repo1-retention-archive={RETENTION_ARCHIVE_INCR}",
        "repo1-bundle=y",
        f"log-path={h / 'log'}", f"lock-path={h / 'lock'}", f"spool-path={h / 'spool'}",
        "log-level-console=error", "log-level-stderr=error", "log-level-file=info",
        "start-fast=y", "compress-type=zst",
        "", f"[{st.name}]", f"pg1-path={st.data_dir}", f"pg1-port={st.port}", f"pg1-socket-path={socket_dir}", ""]
    return "\n".join(lines)


def _write_secrets(st: Stanza, s3: dict | None) -> None:
    """The repository passphrase: DBTOOL_PITR_CIPHER_PASS, else the one already written, else a new
    random one. Losing it makes the repository unreadable: keep a copy in the secret store."""
    path = st.home / "conf.d" / "secrets.conf"
    passphrase = os.environ.get(PASS_ENV) or _existing_passphrase(path) or secrets.token_urlsafe(32)
    lines = ["[global]", f"repo1-cipher-pass={passphrase}"]
    if s3:
        lines += [f"repo1-{k}={v}" for k, v in s3["secrets"].items()]
    cluster.write_private(path, "\n".join(lines) + "\n", owner=cluster.server_uid())


def _existing_passphrase(path: Path) -> str | None:
    try:
        m = re.search(r"^repo1-cipher-pass=(.+)$", path.read_text(), re.M)
    except FileNotFoundError:
        return None
    return m.group(1) if m else None


def s3_options(url: str, kms_key_id: str | None, verify_tls: bool) -> dict:
    """repo1-* options of an s3://BUCKET/PATH repository from the standard AWS variables."""
    u = urlparse(url)
    if u.scheme != "s3" or not u.netloc:
        raise UsageError(f"bad repository {url!r}", hint="use s3://BUCKET/PATH, or leave --repo out for a local one")
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise UsageError("an S3 repository needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                         hint="archive_command runs without your environment, so the keys are written to the "
                              "stanza's conf.d/secrets.conf (mode 0600)")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = urlparse(os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "")
    opts = {"type": "s3", "s3-bucket": u.netloc, "path": u.path or "/", "s3-region": region,
            "s3-endpoint": endpoint.hostname or f"s3.{region}.amazonaws.com"}
    if endpoint.hostname:  # an S3-compatible store: path-style URLs, its own port
        opts |= {"s3-uri-style": "path", "storage-port": endpoint.port or 443}
    if kms_key_id:
        opts["s3-kms-key-id"] = kms_key_id
    if not verify_tls:
        opts["storage-verify-tls"] = "n"
    found = {"s3-key": key, "s3-key-secret": secret}
    if os.environ.get("AWS_SESSION_TOKEN"):
        found["s3-token"] = os.environ["AWS_SESSION_TOKEN"]
    return {"options": opts, "secrets": found}


def run(st: Stanza, *args: str, timeout: int = 3600, check: bool = True) -> subprocess.CompletedProcess:
    """pgbackrest as the server's OS user; a failure is one line from pgBackRest's own ERROR."""
    argv = st.pgbackrest_argv(*args)
    if os.geteuid() == 0:
        argv = ["runuser", "-u", cluster.server_user(), "--", *argv]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd="/", env=env)
    if check and res.returncode != 0:
        raise DatabaseFailure(f"pgbackrest {args[-1] if args else ''} failed for stanza {st.name!r}: "
                              f"{error_line(res.stderr + res.stdout)}",
                              hint=f"pgBackRest's log: {st.home / 'log'}")
    return res


def error_line(text: str) -> str:
    """pgBackRest's first ERROR line, without its code ("ERROR: [055]: ...")."""
    for ln in text.splitlines():
        m = re.match(r"^(?:.*?ERROR: \[\d+\]: )(.*)$", ln)
        if m:
            return m.group(1).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def info(st: Stanza) -> dict:
    """`pgbackrest info --output=json` for this stanza: its one element."""
    res = run(st, "--output=json", "info")
    data = json.loads(res.stdout or "[]")
    if not data:
        raise DatabaseFailure(f"pgbackrest knows no stanza {st.name!r}")
    return data[0]
