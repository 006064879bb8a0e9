"""`dbtool lint`: one gate for the project's SQL, in four layers (see docs/lint.md).

style (sqlfluff), safety (squawk, migrations only), bodies (plpgsql_check against a migrated
database) and rules (dbtool's own conventions). Findings can be suppressed inline with a reason.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

from .. import db, scratch
from ..config import Project
from ..errors import DbtoolError, UsageError
from ..lint import bodies, files, rules, safety, settings, style, suppress
from ..lint.model import Finding, Report

NO_DATABASE = ("skipped: no database; pass --database-url of a migrated database (or set DATABASE_URL), "
               "--server-url of a server to build one on, --temp-cluster, or --dev")


def lint(project: Project, *, paths: list[str] | None = None, changed: bool = False, base: str | None = None,
         database_url: str | None = None, server_url: str | None = None, dev: bool = False,
         temp_cluster: bool = False, layers: list[str] | None = None, environment: bool = False) -> Report:
    """Lint the project's SQL. The bodies layer's database: `database_url` (checked in place), else a
    scratch database built on `server_url`'s server, in a temporary local cluster (`temp_cluster`) or
    on the dev cluster (`dev`); else, with `environment` (the command line), the database of
    DATABASE_URL or the PG* variables, as every command reads it; else the layer is skipped."""
    started = time.monotonic()
    if changed and paths:
        raise UsageError("pass either files or --changed, not both", hint="pre-commit passes files; CI uses --changed")
    cfg = settings.load(project)
    if base and not changed:
        raise UsageError("--base only makes sense with --changed", hint="add --changed")
    settings.check_layers(layers or [])
    ws = files.load(project, cfg)
    selected = files.select(ws, paths, changed, base)
    report = Report(files=sorted(selected))
    wanted = [x for x in cfg.layers if not layers or x in layers]
    found: list[Finding] = []
    if selected:
        if environment and database_url is None and server_url is None and not (dev or temp_cluster) \
                and "bodies" in wanted:
            database_url = from_environment(report)
        db_source = dict(database_url=database_url, server_url=server_url, dev=dev, temp_cluster=temp_cluster,
                         only=selected if (paths or changed) else None)
        found += _run_layers(project, ws, cfg, selected, wanted, report, db_source)
    ran = {k for k, v in report.layers.items() if v == "ran"}
    chosen = [f for f in ws.files if f.rel in selected]
    kept, report.suppressed = suppress.apply(found, chosen, ran)
    report.findings = [f for f in kept if cfg.active(f.rule)
                       and (f.path in selected or (f.path.startswith("(database)") and not (paths or changed)))]
    report.sort()
    report.seconds = time.monotonic() - started
    return report


def from_environment(report: Report) -> str | None:
    """DATABASE_URL, else "" when PG* variables name a database (libpq reads them), else None; a
    note says which database the bodies layer checks."""
    try:
        url = db.resolve_url(None)
    except UsageError:
        return None
    source = "DATABASE_URL" if url else "the PG* variables"
    try:
        shown = db.describe(url)
    except DbtoolError:
        shown = "the database"
    report.notes.append(f"function bodies are checked in {shown}, from {source} (--database-url, --server-url, "
                        "--temp-cluster or --dev choose another)")
    return url


def _run_layers(project, ws, cfg, selected, wanted, report, db_source: dict) -> list[Finding]:
    found: list[Finding] = []
    for layer in settings.LAYERS:
        if layer not in wanted:
            report.layers[layer] = "skipped: not enabled"
        elif layer == "rules":
            found += rules.check(ws, cfg, selected)
            report.layers[layer] = "ran"
        elif layer == "style":
            found += style.check(ws, selected)
            report.layers[layer] = "ran"
        elif layer == "safety":
            exe = safety.binary()
            report.layers[layer] = "ran" if exe else "skipped: squawk is not installed (pip install squawk-cli)"
            found += safety.check(ws, cfg, selected, exe) if exe else []
        else:
            found += _bodies(project, ws, report, **db_source)
    return found


def _bodies(project, ws, report, database_url, server_url, dev, temp_cluster, only) -> list[Finding]:
    if dev and database_url is None and server_url is None:
        from .. import devcluster
        try:
            server_url = db.with_dbname(devcluster.url(project), "postgres")
        except DbtoolError as exc:
            report.layers["bodies"] = f"skipped: --dev: {exc.message}"
            return []
    if database_url is None and server_url is None and not temp_cluster:
        report.layers["bodies"] = NO_DATABASE
        return []
    if only is not None and not bodies.defines_functions(ws, only):  # nothing of theirs to check
        report.layers["bodies"] = "ran"
        report.notes.append("plpgsql_check: the files linted define no function")
        return []
    if database_url is not None:
        _note_if_behind(database_url, project, report)
    with ExitStack() as stack:
        if database_url is None:
            server_url = stack.enter_context(scratch.server(server_url, project.names("preload")))  # None: initdb + start, a few seconds
            database_url = stack.enter_context(scratch.migrated(server_url, project, prefix="dbtool_lint_"))
        checked = bodies.check(database_url, ws, only)
    report.layers["bodies"] = "ran"
    report.notes += checked.notes
    of = f" of {checked.total} (those defined in the files linted)" if only is not None else ""
    report.notes.append(f"plpgsql_check checked {checked.functions}{of} PL/pgSQL function(s)")
    return checked.findings


def _note_if_behind(url: str, project: Project, report: Report) -> None:
    from .. import runs
    try:
        behind = runs.behind(url, project)
    except DbtoolError as exc:
        report.notes.append(f"could not compare the database with the files: {exc.message}")
        return
    if behind:
        report.notes.append(f"the database is not at head ({len(behind)} migration(s)/object(s) pending or "
                            "changed): function bodies were checked against an older schema")
