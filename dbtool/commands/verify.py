"""`dbtool verify`: on a scratch database, every migration must survive up, down, up.

The scratch database is built in a throwaway local cluster, or on the server given explicitly
(`--server-url`): never on the server of DATABASE_URL, which verify does not read.

For each migration in order: apply it, roll it back, and the catalog (and the cron jobs it
declares) must be exactly as before it; apply it again, and the catalog must be exactly as after
the first apply. The first migration that breaks this is reported with the differences. At the
end the repeatable objects must apply cleanly on the head schema.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .. import catalog, cron, db, engine, ledger, runs, scratch
from ..config import Project
from ..engine import Progress, Settings, silent
from ..errors import FINDINGS, DbtoolError, UsageError


@dataclass
class VerifyResult:
    ok: bool
    checked: list[str] = field(default_factory=list)
    failed: str | None = None
    problem: str | None = None
    differences: list[dict] = field(default_factory=list)
    built_in: str = scratch.LOCAL  # where the scratch database was: a temporary local cluster, or a server

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else FINDINGS

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self, quiet: bool = False) -> list[str]:
        if self.ok:
            return [f"ok: {len(self.checked)} migration(s) survive up, down, up (in {self.built_in})"]
        out = [f"{self.failed}: {self.problem}"]
        for d in self.differences:
            out.append(f"  {d['action']:<8} {d['kind']} {d['name']}")
            if d["action"] == "changed":
                out.append(f"           before: {d['before']}\n           after:  {d['after']}")
        return out


def _state(conn, jobs_table: str) -> dict:
    snap = catalog.snapshot(conn, jobs_table=jobs_table)
    snap["declared cron job"] = {j.name: j.attrs() for j in cron.desired(conn, jobs_table)}
    return snap


def _changes(a: dict, b: dict) -> list[dict]:
    return [c.as_dict() for c in catalog.diff(a, b)]


def verify(server_url: str | None, project: Project, *, settings: Settings | None = None,
           progress: Progress = silent, scratch_name: str | None = None,
           database_url: str | None = None) -> VerifyResult:
    """Up, down, up for every migration in a scratch database on the server of `server_url` (needs
    CREATEDB there), or, with None, in a throwaway local cluster. `database_url` is refused: a
    command line that names a database expects it to be read, and verify reads none."""
    if database_url is not None:
        raise UsageError("verify reads no database: it builds the migrations in a throwaway local cluster",
                         hint="to build them in a scratch database on that server instead (needs CREATEDB "
                              "there), pass --server-url URL")
    settings = settings or Settings.from_project(project)
    files, reps = runs.load(project)
    progress("building", f"in {scratch.where(server_url)}", {})
    with scratch.server(server_url, project.names("preload")) as url, \
            scratch.database(url, prefix="dbtool_verify_", name=scratch_name) as target:
        with db.connection(target) as conn:
            ledger.ensure(conn)
        result = _walk(target, project, files, settings, progress)
        result.built_in = scratch.where(server_url)
        if result.ok:
            with db.connection(target) as conn:
                engine.reapply(conn, project, reps, settings, strict=True)
        return result


def _step(url: str, jobs_table: str, action, *args) -> dict:
    """Run one apply or undo in its own session, as separate dbtool runs would (an extension such
    as timescaledb cannot be re-created in the session that dropped it), and snapshot afterwards."""
    with db.connection(url) as conn:
        action(conn, *args)
    with db.connection(url) as conn:
        return _state(conn, jobs_table)


def _walk(url, project, files, settings, progress) -> VerifyResult:
    result = VerifyResult(ok=True)
    table = cron.table_of(project)
    with db.connection(url) as conn:
        before = _state(conn, table)
    for i, m in enumerate(files, 1):
        progress("verify", m.id, {"n": i, "of": len(files)})
        step = "apply"
        try:
            after_up = _step(url, table, engine.apply, project, m, settings)
            step = "roll back"
            diff = _changes(before, _step(url, table, engine.undo, project, m, settings))
            if diff:
                return _fail(result, m.id, "the rollback does not restore the catalog it started from", diff)
            step = "re-apply"
            again = _step(url, table, engine.apply, project, m, settings)
        except DbtoolError as err:
            return _fail(result, m.id, f"{step} failed: {err.message}", [])
        diff = _changes(after_up, again)
        if diff:
            return _fail(result, m.id, "applying again after the rollback gives a different catalog", diff)
        result.checked.append(m.id)
        before = again
    return result


def _fail(result: VerifyResult, mid: str, problem: str, diff: list[dict]) -> VerifyResult:
    result.ok, result.failed, result.problem, result.differences = False, mid, problem, diff
    return result
