"""`dbtool pitr`: point-in-time recovery with pgBackRest (docs/backup.md). setup configures a stanza
for a local cluster and turns WAL archiving on; backup, status and restore drive pgBackRest."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from psycopg import sql

from .. import cluster, config, db
from ..config import Project
from ..errors import DatabaseFailure, UsageError
from ..output import size
from ..pitr import recovery, repo, window
from ..pitr.repo import ARCHIVE_TIMEOUT, Stanza

BACKUP_TYPES = ("full", "diff", "incr")
# The document's schedule: a full backup daily at 02:00 UTC, an incremental every 6 hours.
SCHEDULE = (("full", "0 2 * * *", "*-*-* 02:00:00"), ("incr", "0 8,14,20 * * *", "*-*-* 08,14,20:00:00"))


@dataclass
class Setup:
    stanza: str
    home: Path
    data_dir: Path
    port: int
    repo: str
    archive_timeout: int
    actions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self, quiet: bool = False) -> list[str]:
        return self.actions + [f"{self.stanza}: PITR set up for {self.data_dir} (port {self.port}); repository "
                               f"{self.repo}; config {self.home}"]


class Taken(dict):
    """A pgBackRest backup: pgbackrest info's record of it, with the stanza and how long it took."""

    def as_dict(self) -> dict:
        return dict(self)

    def lines(self, quiet: bool = False) -> list[str]:
        return [f"{self['stanza']}: {self['type']} backup {self['label']} in {self['seconds']:.0f} s "
                f"({size(self['bytes'])}, {size(self['repo_bytes'])} stored)"]


@dataclass
class Schedule:
    text: str  # crontab lines or systemd units

    def as_dict(self) -> dict:
        return {"schedule": self.text}

    def lines(self, quiet: bool = False) -> list[str]:
        return [self.text.rstrip("\n")]


@dataclass
class Window(window.Status):
    """`pitr status` as it shows: the backups, the archiver, the RPO, the recoverable window."""

    def lines(self, quiet: bool = False) -> list[str]:
        out = [f"backup   {b['label']}  {b['type']:<4}  {b['stop']:%Y-%m-%d %H:%M:%S}Z  {size(b['bytes'])}"
               for b in self.backups]
        a = self.archiver
        if a:
            out.append(f"archive  last {a['last_archived_wal'] or 'none'} at {a['last_archived_time'] or '-'}; "
                       f"{a['failed_count']} failed")
        if self.rpo:
            age = self.rpo["last_archive_age_s"]
            out.append(f"rpo      archive_timeout {self.rpo['archive_timeout_s']} s (target {self.rpo['target_s']} s); "
                       f"last archive {'-' if age is None else f'{age:.0f} s'} ago")
        out += [f"problem  {p}" for p in self.problems]
        return out + [f"{self.stanza}: recoverable window {self._window()}; {len(self.backups)} backup(s); "
                      f"repository {self.repo}"]

    def _window(self) -> str:
        if not self.earliest:
            return "empty"
        if self.latest and self.latest < self.earliest:
            # Right after a backup, before any later WAL is archived, no moment is reachable by --to yet.
            return (f"only --to-latest until WAL after {self.latest:%Y-%m-%d %H:%M:%S}Z is archived "
                    "(within archive_timeout once the server writes)")
        return f"{self.earliest:%Y-%m-%d %H:%M:%S}Z .. {self.latest:%Y-%m-%d %H:%M:%S}Z"


@dataclass
class Recovered(recovery.Restored):
    """`pitr restore` as it shows: where the copy runs, and how to swap it in."""

    swap: list[str] = field(default_factory=list)

    def lines(self, quiet: bool = False) -> list[str]:
        reached = f"{self.replayed_to:%Y-%m-%d %H:%M:%S.%f%z}" if self.replayed_to else "-"
        return [f"{self.stanza}: restored to {self.target.isoformat() if self.target else 'the latest archived WAL'} "
                f"in {self.data_dir}, running on port {self.port}; last transaction {reached}, WAL {self.last_wal}; "
                f"{self.seconds:.1f} s"] + self.swap


def locate(home: str | None, stanza: str | None, project_dir: str | None) -> tuple[Path, str, Project | None]:
    """(base folder, stanza name, project or None): outside a project, --home and --stanza suffice."""
    project = None if home and stanza else config.load(project_dir)
    return base_dir(home, project), stanza or project.get("database"), project


def load(home: str | None, stanza: str | None, project_dir: str | None) -> Stanza:
    base, name, _ = locate(home, stanza, project_dir)
    return repo.load(base, name)


def configure(home: str | None, stanza: str | None, project_dir: str | None, data_dir: str | None,
              **options) -> Setup:
    """`pitr setup` from its options: the dev cluster (the project's) unless --data-dir names one."""
    base, name, project = locate(home, stanza, project_dir)
    if data_dir is None and project is None:
        project = config.load(project_dir)
    return setup(base, name, data_dir=Path(data_dir) if data_dir else None, project=project, **options)


def status(st: Stanza) -> Window:
    return Window(**window.status(st).__dict__)


def default_base(project: Project) -> Path:
    return project.state_dir / "pitr"


def base_dir(home: str | None, project: Project | None) -> Path:
    if home:
        return Path(home).absolute()
    if project is None:
        raise UsageError("no project folder and no --home", hint="pass --home DIR or run inside the project")
    return default_base(project)


# ----- which cluster ------------------------------------------------------------------------------


def running_cluster(data_dir: Path) -> tuple[int, str]:
    """(port, first unix socket folder) from postmaster.pid: the cluster as it runs now."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        raise UsageError(f"no running PostgreSQL in {data_dir}", hint="start the cluster first") from None
    if len(lines) < 5:
        raise UsageError(f"{data_dir}/postmaster.pid is incomplete: is the server starting?")
    return int(lines[3]), lines[4].strip()


def dev_target(project: Project) -> tuple[Path, int, str, str]:
    """(data folder, port, URL, log) of the project's dev cluster."""
    from .. import devcluster

    d = devcluster.require(project)
    if not cluster.is_running(d.datadir):
        raise UsageError("the dev cluster is not running", hint="run `dbtool dev up`, or pass --data-dir")
    return d.datadir, d.port, d.url, str(d.datadir.parent / "postgresql.log")


def socket_url(socket_dir: str, port: int) -> str:
    return f"postgresql://postgres@/postgres?host={socket_dir}&port={port}"


# ----- setup --------------------------------------------------------------------------------------


def setup(base: Path, name: str, *, data_dir: Path | None, url: str | None, project: Project | None,
          s3_repo: str | None = None, kms_key_id: str | None = None, verify_tls: bool = True) -> Setup:
    repo.require_pgbackrest()
    repo.check_name(name)
    s3 = repo.s3_options(s3_repo, kms_key_id, verify_tls) if s3_repo else None
    st, socket_dir = _stanza_for(base, name, data_dir, url, project)
    st.repo = s3_repo or str(st.home / "repo")
    res = Setup(stanza=name, home=st.home, data_dir=st.data_dir, port=st.port, repo=st.repo,
                archive_timeout=ARCHIVE_TIMEOUT)
    repo.make_home(st)
    socket_added = not socket_dir
    if socket_added:  # pgBackRest talks to the server over a unix socket only
        socket_dir = _add_socket(st, res)
    repo.write_config(st, socket_dir, s3)
    st.save()
    _archive_settings(st, res, socket_added)
    repo.run(st, "stanza-create")
    repo.run(st, "check")
    res.actions.append("pgbackrest stanza-create and check: ok (WAL archiving works)")
    return res


def _stanza_for(base: Path, name: str, data_dir: Path | None, url: str | None,
                project: Project | None) -> tuple[Stanza, str]:
    if data_dir is None:
        if project is None:
            raise UsageError("no --data-dir and no project with a dev cluster")
        data_dir, port, dev_url, log = dev_target(project)
        _, socket_dir = running_cluster(data_dir)
        return Stanza(name=name, base=base, data_dir=data_dir, port=port, url=url or dev_url, log_file=log), socket_dir
    data_dir = data_dir.absolute()
    port, socket_dir = running_cluster(data_dir)
    st = Stanza(name=name, base=base, data_dir=data_dir, port=port,
                url=url or socket_url(socket_dir or "127.0.0.1", port), log_file="")
    st.log_file = str(st.home / "log" / "postgresql.log")
    return st, socket_dir


def _add_socket(st: Stanza, res: Setup) -> str:
    """A server listening on TCP only (the dev cluster) gets a unix socket in the stanza's home,
    which only the server's user can enter, and a pg_hba rule letting that OS user in as postgres."""
    socket_dir = str(st.home / "run")
    _alter_system(st.url, {"unix_socket_directories": socket_dir})
    user = cluster.server_user()
    _prepend(st.data_dir / "pg_ident.conf", f"dbtool_pitr {user} postgres")
    _prepend(st.data_dir / "pg_hba.conf", "local all postgres peer map=dbtool_pitr")
    res.actions.append(f"unix socket for pgBackRest in {socket_dir} (peer authentication, OS user {user})")
    return socket_dir


def _prepend(path: Path, line: str) -> None:
    text, stat = path.read_text(), path.stat()
    if line not in text.splitlines():
        cluster.write_private(path, f"# added by dbtool pitr setup\n{line}\n{text}", owner=stat.st_uid)
        os.chown(path, stat.st_uid, stat.st_gid)


def _alter_system(url: str, settings: dict) -> None:
    with db.connection(url, dbname="postgres") as conn:
        for name, value in settings.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(str(value))))


def _archive_settings(st: Stanza, res: Setup, socket_added: bool) -> None:
    """ALTER SYSTEM (postgresql.auto.conf), then a reload, or a restart when archive_mode (or
    wal_level, or a new socket) changes: those take effect only at server start."""
    _alter_system(st.url, {"archive_mode": "on", "archive_command": st.archive_command(),
                           "archive_timeout": ARCHIVE_TIMEOUT})
    with db.connection(st.url, dbname="postgres") as conn:
        # the running values, read before the reload: pending_restart lags behind pg_reload_conf()
        pending = [name for name, ok in (("archive_mode", db.scalar(conn, "SHOW archive_mode") == "on"),
                                         ("wal_level", db.scalar(conn, "SHOW wal_level") != "minimal"),
                                         ("unix_socket_directories", not socket_added)) if not ok]
        if "wal_level" in pending:
            conn.execute("ALTER SYSTEM SET wal_level = replica")
        conn.execute("SELECT pg_reload_conf()")
    res.actions.append(f"archive_mode on, archive_command pgbackrest archive-push, archive_timeout "
                       f"{ARCHIVE_TIMEOUT}s (ALTER SYSTEM); configuration reloaded")
    if pending:
        _restart(st)
        res.actions.append(f"server restarted: {', '.join(pending)} only change on a restart")


def _restart(st: Stanza) -> None:
    out = cluster.pg_ctl("restart", "-D", str(st.data_dir), "-m", "fast", "-w", "-t", "120", "-l", st.log_file)
    if out.returncode != 0:
        raise DatabaseFailure(f"could not restart the server in {st.data_dir}: {out.stderr.strip()[-200:]}",
                              hint=f"see {st.log_file}")


# ----- backup, schedule ---------------------------------------------------------------------------


def backup(st: Stanza, kind: str) -> Taken:
    if kind not in BACKUP_TYPES:
        raise UsageError(f"unknown backup type {kind!r}", hint="use full, diff or incr")
    repo.run(st, f"--type={kind}", "backup")  # expires what retention no longer needs, by itself
    newest = window.backups(repo.info(st))[-1]
    return Taken(stanza=st.name, **newest, seconds=(newest["stop"] - newest["start"]).total_seconds())


def schedule(st: Stanza, style: str) -> Schedule:
    """The document's schedule as crontab lines for the server's user, or systemd units."""
    user = cluster.server_user()
    cmd = " ".join(st.pgbackrest_argv())
    if style == "cron":
        return Schedule("\n".join([f"# crontab -u {user} -e   (times in the machine's zone; the document means UTC)"]
                                  + [f"{when}  {cmd} --type={kind} backup" for kind, when, _ in SCHEDULE]) + "\n")
    if style != "systemd":
        raise UsageError(f"unknown schedule style {style!r}", hint="use cron or systemd")
    units = []
    for kind, _, calendar in SCHEDULE:
        units.append(f"# /etc/systemd/system/pitr-{st.name}-{kind}.service\n[Unit]\nDescription=pgBackRest {kind} "
                     f"backup of {st.name}\n[Service]\nType=oneshot\nUser={user}\nExecStart={cmd} --type={kind} backup\n")
        units.append(f"# /etc/systemd/system/pitr-{st.name}-{kind}.timer\n[Timer]\nOnCalendar={calendar} UTC\n"
                     f"Persistent=true\n[Install]\nWantedBy=timers.target\n")
    units.append(f"# then: systemctl enable --now pitr-{st.name}-full.timer pitr-{st.name}-incr.timer\n")
    return Schedule("\n".join(units))


# ----- restore ------------------------------------------------------------------------------------


def restore(st: Stanza, to: str | None, latest: bool, target_dir: str, port: int | None = None) -> Recovered:
    if bool(to) == latest:
        raise UsageError("pass either --to TIMESTAMP or --to-latest")
    target = recovery.parse_time(to) if to else None
    path = Path(target_dir).absolute()
    recovery.check_target_dir(path, st)
    if port is not None and cluster.port_in_use(port):
        raise UsageError(f"port {port} is already in use", hint="leave --port out to take a free one")
    repo.require_pgbackrest()
    if target is not None:
        recovery.check_window(target, window.earliest(window.backups(repo.info(st))))
    res = recovery.restore(st, target, path, port)
    return Recovered(**res.__dict__, swap=swap_hint(st, res))


def swap_hint(st: Stanza, res) -> list[str]:
    return [f"to swap it in: stop the old server (pg_ctl stop -D {st.data_dir}), move {st.data_dir} aside and "
            f"{res.data_dir} into its place (stop the copy first), start it on port {st.port}, then "
            f"`dbtool pitr setup --data-dir {st.data_dir}` (archiving is off in the copy) and "
            "`dbtool pitr backup --type full` (a restore starts a new timeline)",
            f"stop the copy: pg_ctl stop -D {res.data_dir}" + (" (as postgres)" if os.geteuid() == 0 else "")]
