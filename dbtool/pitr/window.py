"""The recoverable window and the RPO: what pgBackRest's repository holds (`info`) and what the
server says about its archiver (pg_stat_archiver)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from .. import db
from ..errors import DbtoolError
from . import repo

RPO_TARGET = 300  # seconds: the architecture document's 5 minutes

ARCHIVER = """SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal,
                     last_failed_time, now() AS now, current_setting('archive_timeout') AS archive_timeout,
                     current_setting('archive_mode') AS archive_mode
              FROM pg_stat_archiver"""


@dataclass
class Status:
    stanza: str
    repo: str
    backups: list[dict] = field(default_factory=list)
    earliest: datetime | None = None  # the first moment a restore can reach: the oldest backup's end
    latest: datetime | None = None  # the last archived WAL's time (else the newest backup's end)
    archiver: dict | None = None
    rpo: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _ts(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def backups(info: dict) -> list[dict]:
    return [{"label": b["label"], "type": b["type"], "start": _ts(b["timestamp"]["start"]),
             "stop": _ts(b["timestamp"]["stop"]), "bytes": b["info"]["size"],
             "repo_bytes": b["info"]["repository"]["delta"]} for b in info.get("backup", [])]


def earliest(found: list[dict]) -> datetime | None:
    """The first moment a restore can reach; pgBackRest keeps whole seconds and restores to times
    strictly after a backup's stop."""
    return min(b["stop"] for b in found) + timedelta(seconds=1) if found else None


def archiver(url: str) -> dict:
    with db.connection(url, dbname="postgres") as conn:
        cur = conn.execute(ARCHIVER)
        row = cur.fetchone()
        return dict(zip([c.name for c in cur.description], row))


def rpo(a: dict) -> dict:
    """The configured bound (archive_timeout) and the measured exposure now: how old the last
    archived segment is. An idle server switches no segment, so an old one alone is no loss."""
    timeout = _seconds(a["archive_timeout"])
    age = (a["now"] - a["last_archived_time"]).total_seconds() if a["last_archived_time"] else None
    return {"target_s": RPO_TARGET, "archive_timeout_s": timeout, "last_archive_age_s": age,
            "configured_ok": 0 < timeout <= RPO_TARGET}


def _seconds(setting: str) -> int:
    units = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400}
    num = setting.rstrip("abcdefghijklmnopqrstuvwxyz")
    return int(float(num) * units.get(setting[len(num):] or "s", 1))


def status(st: repo.Stanza) -> Status:
    info = repo.info(st)
    s = Status(stanza=st.name, repo=st.repo, backups=backups(info))
    if info.get("status", {}).get("code", 0) != 0:
        s.problems.append(f"pgBackRest: {info['status'].get('message')}")
    if s.backups:
        s.earliest = earliest(s.backups)
        s.latest = max(b["stop"] for b in s.backups)
    else:
        s.problems.append("no backup yet: run `dbtool pitr backup --type full`")
    try:
        s.archiver = archiver(st.url)
    except DbtoolError as e:  # the repository still answers for a stopped server
        s.problems.append(f"server not reachable: {e.message}")
        return s
    _judge(s)
    return s


def _judge(s: Status) -> None:
    a = s.archiver
    s.rpo = rpo(a)
    if a["last_archived_time"] and (s.latest is None or a["last_archived_time"] > s.latest):
        s.latest = a["last_archived_time"]
    if a["archive_mode"] != "on":
        s.problems.append(f"archive_mode is {a['archive_mode']}: run `dbtool pitr setup`")
    if a["failed_count"] and (a["last_archived_time"] is None or a["last_failed_time"] > a["last_archived_time"]):
        s.problems.append(f"archive_command is failing: {a['failed_count']} failure(s), last for "
                          f"{a['last_failed_wal']} at {a['last_failed_time']:%Y-%m-%d %H:%M:%S%z}")
    if not s.rpo["configured_ok"]:
        s.problems.append(f"archive_timeout {s.rpo['archive_timeout_s']} s does not meet the {RPO_TARGET} s RPO")
