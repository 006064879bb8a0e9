"""`dbtool repair`: the DBA's decision about an edited or deleted applied file, recorded in dbtool.log."""

from __future__ import annotations

from .. import db, ledger, migrations
from ..config import Project
from ..engine import Settings
from ..errors import UsageError


class Repaired(list):
    """What repair did, a line each."""

    def as_dict(self) -> dict:
        return {"repaired": list(self)}

    def lines(self, quiet: bool = False) -> list[str]:
        return list(self)


def repair(url: str | None, project: Project, *, accept: list[str] = (), forget: list[str] = (),
           reason: str | None = None, settings: Settings | None = None) -> Repaired:
    """--accept ID: the file was edited but the database is right; record the file's new checksum.
    --forget ID: the file was removed on purpose; drop the record (the objects stay)."""
    if not accept and not forget:
        raise UsageError("say what to repair: --accept ID (edited file) or --forget ID (deleted file)")
    url = db.resolve_url(url)  # None: DATABASE_URL, then the PG* variables (after the options are checked)
    settings = settings or Settings.from_project(project)
    files = {m.id: m for m in migrations.read(project.migrations_dir, project.root)}
    done_msgs = Repaired()
    with db.connection(url) as conn:
        ledger.lock(conn, settings.lock_wait)
        try:
            applied = ledger.applied(conn)
            # an id or its number (0007), as `migrate --to` takes it, among the migrations this database applied
            accept = [_applied_id(applied, given, "--accept") for given in accept]
            forget = [_applied_id(applied, given, "--forget") for given in forget]
            with conn.transaction():
                for mid in accept:
                    if mid not in files:
                        raise UsageError(f"--accept {mid}: the file is gone", hint=f"use --forget {mid}")
                    m = files[mid]
                    conn.execute(f"UPDATE {ledger.SCHEMA}.migrations SET checksum = %s, rollback_checksum = %s "
                                 "WHERE id = %s", [m.checksum, m.rollback_checksum, mid])
                    ledger.log(conn, "repair-accept", mid, m.checksum,
                               reason or f"accepted edit (was {applied[mid].checksum[:12]})")
                    done_msgs.append(f"accepted the edited {mid}")
                for mid in forget:
                    if mid in files:
                        raise UsageError(f"--forget {mid}: the file still exists",
                                         hint="forget is for files removed on purpose; use rollback to undo one")
                    conn.execute(f"DELETE FROM {ledger.SCHEMA}.migrations WHERE id = %s", [mid])
                    ledger.log(conn, "repair-forget", mid, applied[mid].checksum, reason or "file removed")
                    done_msgs.append(f"forgot {mid}")
        finally:
            ledger.unlock(conn)
    return done_msgs


def _applied_id(applied: dict, given: str, option: str) -> str:
    if given in applied:
        return given
    if not any(given in (mid, mid.split("_", 1)[0]) for mid in applied):
        raise UsageError(f"{option} {given}: not an applied migration",
                         hint="give the id or number of a migration this database applied, as `dbtool status` "
                              "lists them")
    return migrations.find_id(list(applied), given, "applied migration", option)  # ambiguous: says which
