"""Streaming replication: is this server a standby, of which primary, and is replication healthy.

A standby is read-only: every write fails there with 25006, half-way through a command. So the
commands that change the schema or its data refuse a standby up front (refuse_standby), naming the
primary to point them at; the commands that only read (status, drift, snapshot, check rls, docs)
work there unchanged (docs/replicas.md).
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

from . import db
from .checks import Check
from .errors import UsageError

# doctor warns above these: a standby this far behind serves reads that old.
LAG_BYTES = 16 * 1024 * 1024  # one WAL segment
LAG_SECONDS = 60
# max_standby_streaming_delay above this: a migration's lock keeps standby reads stale that long.
STALE_SECONDS = 300

RELOAD = "SELECT pg_reload_conf()"


def is_standby(conn: psycopg.Connection) -> bool:
    return bool(db.scalar(conn, "SELECT pg_is_in_recovery()"))


def primary_of(conn: psycopg.Connection) -> str | None:
    """host:port of the primary this standby streams from, when this role may read primary_conninfo
    (a superuser or pg_read_all_settings); None otherwise. Only host and port are taken from it: it
    may hold a password."""
    try:
        with conn.transaction():  # a savepoint, when the caller's transaction is open
            info = db.scalar(conn, "SHOW primary_conninfo")
    except psycopg.errors.InsufficientPrivilege:
        return None
    try:
        parts = conninfo_to_dict(info or "")
    except psycopg.ProgrammingError:
        return None
    host = parts.get("host") or parts.get("hostaddr")
    if not host:
        return None
    return f"{host}:{parts.get('port') or 5432}"


def refuse_standby(conn: psycopg.Connection, action: str) -> None:
    """Refuse a standby, saying `action` ("migrate changes the schema"): a hot standby replays the
    primary's WAL and accepts no write of its own."""
    if not is_standby(conn):
        return
    primary = primary_of(conn)
    where = f"the primary ({primary})" if primary else "the primary"
    raise UsageError(f"this server is a read-only standby: {action} on {where} only",
                     hint=f"point DATABASE_URL at {where}; on a standby, status, drift, snapshot, check rls and "
                          "docs work read-only (docs/replicas.md)")


# ----- doctor -------------------------------------------------------------------------------------


def checks(conn: psycopg.Connection) -> list[Check]:
    """doctor's replication lines: a standby's own state and settings, or a primary's standbys and
    slots (none when it has neither)."""
    if is_standby(conn):
        return [_standby(conn), _streaming_delay(conn), _feedback(conn)]
    # pg_stat_get_wal_senders and pg_replication_slots are PUBLIC: a server with neither says nothing
    if not db.scalar(conn, "SELECT EXISTS (SELECT FROM pg_stat_get_wal_senders()) "
                           "OR EXISTS (SELECT FROM pg_replication_slots WHERE slot_type = 'physical')"):
        return []
    try:
        with conn.transaction():  # a savepoint, when the caller's transaction is open
            return _standbys(conn) + _slots(conn)
    except psycopg.errors.InsufficientPrivilege as exc:
        # pg_stat_replication reads pg_stat_get_activity, which a hardened database (this project's
        # migration 0016) takes away from PUBLIC
        return [Check("standbys", "warn", f"not checked: {db.server_error(exc).message}",
                      "run doctor as a superuser, or as a role with EXECUTE on pg_stat_get_activity and "
                      "pg_monitor's rights, to see this server's standbys and slots")]


def _standby(conn: psycopg.Connection) -> Check:
    primary = primary_of(conn) or "its primary"
    delay, caught_up = conn.execute("""
        SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8,
               pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()""").fetchone()
    if delay is None:
        return Check("standby", "ok", f"a read-only standby of {primary}; no transaction replayed yet")
    value = f"a read-only standby of {primary}; last replayed transaction {delay:.1f} s old"
    if caught_up or delay <= LAG_SECONDS:
        # caught up: all WAL received is replayed, the primary has simply written nothing since
        return Check("standby", "ok", value + (" (all received WAL replayed)" if caught_up else ""))
    return Check("standby", "warn", value + ", received WAL not yet replayed",
                 "a standby query may be holding replay back (max_standby_streaming_delay), or the standby is "
                 "short of I/O: see pg_stat_database_conflicts and the standby's log")


def _seconds_setting(conn: psycopg.Connection, name: str) -> float:
    """A time setting in seconds (-1 stays -1)."""
    value, unit = conn.execute("SELECT setting::float8, unit FROM pg_settings WHERE name = %s", [name]).fetchone()
    return value if value < 0 else value / 1000 if unit == "ms" else value


def _streaming_delay(conn: psycopg.Connection) -> Check:
    name = "max_standby_streaming_delay"
    shown = db.scalar(conn, f"SHOW {name}")
    seconds = _seconds_setting(conn, name)
    fix = f"ALTER SYSTEM SET {name} = '30s'; {RELOAD} (on this standby)"
    if seconds < 0:
        return Check(name, "warn", f"{shown}: replay waits forever behind a standby query that conflicts with it; "
                                   "a migration's ACCESS EXCLUSIVE lock then stalls every later change here", fix)
    if seconds > STALE_SECONDS:
        return Check(name, "warn", f"{shown}: behind a conflicting standby query, replay of a migration's lock "
                                   f"waits up to {shown}, and every read here is that stale meanwhile", fix)
    return Check(name, "ok", f"{shown}: a standby query conflicting with replay (a migration's lock) is "
                             f"cancelled after {shown} (40001, retry it)")


def _feedback(conn: psycopg.Connection) -> Check:
    name = "hot_standby_feedback"
    if db.scalar(conn, f"SHOW {name}") == "on":
        return Check(name, "ok", "on: vacuum on the primary keeps rows standby queries still see (a long standby "
                                 "query bloats the primary's tables while it runs)")
    return Check(name, "warn", "off: a long standby query is cancelled (40001) when vacuum on the primary removes "
                               "rows it still sees",
                 f"ALTER SYSTEM SET {name} = on; {RELOAD} (on this standby; costs bloat on the primary while a "
                 "standby query runs), or keep it off and retry cancelled reads")


def _standbys(conn: psycopg.Connection) -> list[Check]:
    rows = conn.execute("""
        SELECT coalesce(nullif(application_name, ''), 'pid ' || pid), coalesce(host(client_addr), 'local'), state,
               extract(epoch FROM replay_lag)::float8,
               pg_wal_lsn_diff(sent_lsn, write_lsn)::bigint, pg_wal_lsn_diff(sent_lsn, flush_lsn)::bigint,
               pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint
        FROM pg_stat_replication ORDER BY 1""").fetchall()
    return [_standby_line(*row) for row in rows]


def _standby_line(name, addr, state, lag, write, flush, replay) -> Check:
    if state is None:  # this role may not read other sessions' details (pg_read_all_stats)
        return Check(f"standby {name}", "warn", f"{addr}: details hidden from this role",
                     "run doctor as a member of pg_read_all_stats to see its lag")
    behind = f"write {_size(write)}, flush {_size(flush)}, replay {_size(replay)} behind"
    value = f"{addr}, {state}, replay lag {lag or 0:.1f} s, {behind}"
    if state != "streaming" or (replay or 0) > LAG_BYTES or (lag or 0) > LAG_SECONDS:
        return Check(f"standby {name}", "warn", value,
                     "reads there are stale: see the standby's log and doctor run on it "
                     "(max_standby_streaming_delay, conflicts in pg_stat_database_conflicts)")
    return Check(f"standby {name}", "ok", value)


def _slots(conn: psycopg.Connection) -> list[Check]:
    """An inactive physical slot keeps every WAL segment since its standby left, until the disk fills
    (unless max_slot_wal_keep_size caps it)."""
    rows = conn.execute("""
        SELECT slot_name, active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, wal_status
        FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY 1""").fetchall()
    cap = db.scalar(conn, "SHOW max_slot_wal_keep_size")
    out = []
    for name, active, kept, status in rows:
        value = f"{'in use' if active else 'no standby connected'}, keeps {_size(kept)} of WAL ({status})"
        if active:
            out.append(Check(f"replication slot {name}", "ok", value))
            continue
        out.append(Check(f"replication slot {name}", "warn", value + f"; max_slot_wal_keep_size = {cap}",
                         f"bring its standby back, or SELECT pg_drop_replication_slot('{name}'); and cap what a "
                         "slot may keep: ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'"))
    return out


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
