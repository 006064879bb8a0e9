"""Restore a stanza into a NEW data folder, start it on a free port, and prove it reached what was
asked: PostgreSQL's own log says where recovery stopped and which WAL it replayed, so a missing or
damaged segment is named, never passed off as an older database."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from .. import cluster, db
from ..errors import DatabaseFailure, DbtoolError, UsageError
from . import repo

RESTORED = re.compile(r'restored log file "([0-9A-F]{24})" from archive')
STOPPED = re.compile(r"recovery stopping (?:before|after) (?:commit|abort) of transaction \d+, time (.+)$", re.M)
FATAL = re.compile(r"FATAL:\s+(.*)$", re.M)


@dataclass
class Restored:
    stanza: str
    data_dir: Path
    port: int
    url: str
    target: datetime | None  # None: the latest
    replayed_to: datetime | None  # the last transaction the restored cluster has
    last_wal: str | None
    seconds: float
    log: Path
    steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def parse_time(text: str) -> datetime:
    """An ISO time; without a zone it is UTC (the server's log and `pitr status` speak UTC)."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"cannot read {text!r} as a time",
                         hint="use ISO 8601, e.g. '2025-06-01 14:29:00+00' (no zone means UTC)") from None
    t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    if t > datetime.now(timezone.utc):
        raise UsageError(f"{t.isoformat()} is in the future", hint="`dbtool pitr status` shows the recoverable window")
    return t


def check_target_dir(path: Path, st: repo.Stanza) -> None:
    if path.resolve() == st.data_dir.resolve():
        raise UsageError(f"{path} is the running cluster's data folder",
                         hint="restore into a new folder; the output says how to swap it in")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"restore target {path} is not empty", hint="name a new or empty folder")
    if not path.parent.is_dir():
        raise UsageError(f"{path.parent} does not exist", hint="create the parent folder first")


def check_window(t: datetime, earliest: datetime | None) -> None:
    if earliest is None:
        raise UsageError("the repository holds no backup yet", hint="run `dbtool pitr backup --type full`")
    if t < earliest:
        raise UsageError(f"{t.isoformat()} is before the earliest restorable time {earliest.isoformat()}",
                         hint="`dbtool pitr status` shows the recoverable window")


def _make_target(path: Path) -> None:
    path.mkdir(mode=0o700, exist_ok=True)
    uid = cluster.server_uid()
    if uid is not None:
        os.chown(path, uid, -1)
        repo._traversable(path)


def restore(st: repo.Stanza, target: datetime | None, data_dir: Path, port: int | None = None) -> Restored:
    started = time.monotonic()
    data_dir = data_dir.absolute()
    _make_target(data_dir)
    args = [f"--pg1-path={data_dir}", "--archive-mode=off"]  # the copy must not archive into this stanza
    if target is not None:
        # pgBackRest reads PostgreSQL's own format (and picks the backup set by it), not ISO's "T"
        when = target.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")
        args += ["--type=time", f"--target={when}", "--target-action=promote"]
    repo.run(st, *args, "restore")
    port = port or cluster.free_port()
    log = st.home / "log" / f"restore-{data_dir.name}-{int(time.time())}.log"
    url = _url_on_port(st.url, port)
    _start(data_dir, port, log, target)
    res = Restored(stanza=st.name, data_dir=data_dir, port=port, url=url, target=target, replayed_to=None,
                   last_wal=None, seconds=0, log=log)
    _wait_promoted(res)
    _verify(res, st)
    res.seconds = round(time.monotonic() - started, 2)
    return res


def _url_on_port(url: str, port: int) -> str:
    """The source cluster's URL (same credentials: the data folder is a copy) on the new port."""
    params = db.parse(url)
    params["port"] = str(port)
    params["dbname"] = "postgres"
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**params)


def _start(data_dir: Path, port: int, log: Path, target: datetime | None) -> None:
    try:
        cluster.start(data_dir, port, log)
    except DbtoolError:
        raise _recovery_failure(data_dir, log, target) from None


def _wait_promoted(res: Restored, timeout: float = 3600) -> None:
    """pg_ctl returns once the copy accepts read-only connections; replay continues until the target."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not cluster.is_running(res.data_dir):
            raise _recovery_failure(res.data_dir, res.log, res.target)
        try:
            with db.connection(res.url) as conn:
                if not db.scalar(conn, "SELECT pg_is_in_recovery()"):
                    res.replayed_to = db.scalar(conn, "SELECT pg_last_xact_replay_timestamp()")
                    return
        except (DbtoolError, psycopg.OperationalError):
            # starting up or promoting; or stopping, recovery failed (a missing WAL segment): the server
            # can close the connection between connecting and the query, and the next turn's
            # is_running() reports it with the log's reason
            pass
        time.sleep(0.2)
    raise DatabaseFailure(f"the restored cluster in {res.data_dir} did not finish recovery in {timeout:.0f} s",
                          hint=f"see {res.log}")


def _log(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _recovery_failure(data_dir: Path, log: Path, target: datetime | None) -> DbtoolError:
    text = _log(log)
    if "recovery ended before configured recovery target was reached" in text:
        restored = RESTORED.findall(text)
        last = restored[-1] if restored else None
        missing = next_segment(last, data_dir) if last else "the first WAL segment"
        return DatabaseFailure(
            f"cannot reach {target.isoformat() if target else 'the target'}: WAL segment {missing} is missing "
            f"from the repository or unreadable (replay stopped after {last}); the cluster in {data_dir} was not "
            f"started", hint="a later time than the newest archived WAL, or a gap in the archive: "
                             "`dbtool pitr status` shows the window; `pgbackrest verify` checks the repository")
    fatal = FATAL.findall(text)
    return DatabaseFailure(f"the restored cluster in {data_dir} did not start: "
                           f"{fatal[-1] if fatal else 'see its log'}", hint=f"see {log}")


def next_segment(name: str, data_dir: Path) -> str:
    """The WAL segment after `name` (timeline, log, segment in hex), for the cluster's segment size."""
    per_log = 0x100000000 // _segment_size(data_dir)
    tli, log, seg = int(name[:8], 16), int(name[8:16], 16), int(name[16:], 16) + 1
    if seg >= per_log:
        log, seg = log + 1, 0
    return f"{tli:08X}{log:08X}{seg:08X}"


def _segment_size(data_dir: Path) -> int:
    res = subprocess.run([str(cluster.find_bindir() / "pg_controldata"), str(data_dir)], capture_output=True,
                         text=True, env={**os.environ, "LC_ALL": "C"})
    m = re.search(r"Bytes per WAL segment:\s+(\d+)", res.stdout)
    return int(m.group(1)) if m else 16 * 1024 * 1024


def _verify(res: Restored, st: repo.Stanza) -> None:
    """To a time: PostgreSQL logged that it stopped at the target. To the latest: it replayed the
    newest segment the repository has; anything short of it is a gap, however healthy it looks."""
    text = _log(res.log)
    restored = RESTORED.findall(text)
    res.last_wal = restored[-1] if restored else None
    if res.target is not None:
        if not STOPPED.search(text) and not (res.replayed_to and res.replayed_to <= res.target):
            raise DatabaseFailure(f"the restored cluster in {res.data_dir} (port {res.port}) did not log reaching "
                                  f"{res.target.isoformat()}", hint=f"check it by hand; see {res.log}")
        return
    newest = _newest_archived(st)
    if newest and (res.last_wal is None or res.last_wal[8:] < newest[8:]):
        cluster.stop(res.data_dir)
        missing = next_segment(res.last_wal, res.data_dir) if res.last_wal else "the first WAL segment"
        raise DatabaseFailure(f"the restore stopped at WAL {res.last_wal}, older than the newest archived {newest}: "
                              f"segment {missing} is missing or unreadable; the copy in {res.data_dir} was stopped",
                              hint="`pgbackrest verify` checks the repository; restore --to a time before the gap")


def _newest_archived(st: repo.Stanza) -> str | None:
    archives = repo.info(st).get("archive", [])
    return max((a["max"] for a in archives if a.get("max")), default=None, key=lambda n: n[8:])
