"""The `dbtool` command line: parses options, calls dbtool.commands, prints. Nothing else."""

# No `from __future__ import annotations`: Typer reads every parameter's annotation, and would
# evaluate each string with eval() on every start (about 20 ms for the whole app).

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import config, db
from .errors import UsageError
from .launch import lean_typer
from .output import handled, out, progress, show, table_progress

lean_typer()  # Typer without pydantic for values that need no coercion (dbtool/launch.py)


class _Lazy:
    """A command module imported when a command first uses it, so that a run loads the code of
    its own command only (lint, backup or seed bring sqlfluff, boto3, yaml...). Commands resolve the
    database URL and load the project before they call into it: a usage error imports nothing."""

    def __init__(self, name: str):
        self._name, self._module = name, None

    def __getattr__(self, attr: str):
        if self._module is None:
            self._module = importlib.import_module(f"{__package__}.commands.{self._name}")
        return getattr(self._module, attr)


backup_cmd, check_rls_cmd, dev_cmd, doctor_cmd, drift_cmd = (
    _Lazy("backup"), _Lazy("check_rls"), _Lazy("dev"), _Lazy("doctor"), _Lazy("drift"))
lint_cmd, migrate_cmd, new_cmd, repair_cmd, restore_cmd = (
    _Lazy("lint"), _Lazy("migrate"), _Lazy("new"), _Lazy("repair"), _Lazy("restore"))
rollback_cmd, seed_cmd, snapshot_cmd, status_cmd, verify_cmd = (
    _Lazy("rollback"), _Lazy("seed"), _Lazy("snapshot"), _Lazy("status"), _Lazy("verify"))
tenant_cmd = _Lazy("tenant")
baseline_cmd, log_cmd = _Lazy("baseline"), _Lazy("log")
docs_cmd = _Lazy("docs")
pitr_cmd = _Lazy("pitr")
init_cmd = _Lazy("init")

EXIT_CODES = """\b
Exit codes:
  0  ok
  1  findings: pending migrations or problems in migrations/ (status --exit-code),
     drift, lint, RLS, verify or doctor findings
  2  usage: bad options, no database given, or "no" at a confirmation prompt
     (cancelled: nothing changed)
  3  database or migration failure

The database comes from --database-url, else DATABASE_URL, else the standard PG* variables
(PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD)."""

app = typer.Typer(help="Pure-SQL migrations and schema management for PostgreSQL.\n\n" + EXIT_CODES,
                  no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  pretty_exceptions_enable=False)
dev_app = typer.Typer(help="A project-local PostgreSQL with every extension the schema needs.\n\n" + EXIT_CODES,
                      no_args_is_help=True)
app.add_typer(dev_app, name="dev")


def _print_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        out.print(f"dbtool {version('dbtool')}", markup=False)
    except PackageNotFoundError:  # run from a source tree that was never installed
        out.print("dbtool (version unknown: not installed)", markup=False)
    raise typer.Exit()


@app.callback()
def _root(_version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                 help="Print dbtool's version and exit.")] = False) -> None:
    pass


Url = Annotated[Optional[str], typer.Option("--database-url", "-d", metavar="URL",
                                            help="Database URL (default: DATABASE_URL, then PG* variables).",
                                            show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
# verify, drift --against-migrations, snapshot --from-migrations, lint: where scratch databases are built
ServerUrl = Annotated[Optional[str], typer.Option(
    "--server-url", metavar="URL", show_default=False,
    help="Build the scratch database on this server (needs CREATEDB there; dropped afterwards). Default: a "
         "throwaway local cluster; DATABASE_URL's server is never used for it.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors, warnings and the final summary line "
                                                           "(no progress, no per-item lines).")]
Project = Annotated[Optional[str], typer.Option("--project", metavar="DIR", envvar="DBTOOL_PROJECT",
                                                help="Project folder (default: nearest with [tool.dbtool]).")]
LockTimeout = Annotated[Optional[str], typer.Option(
    "--lock-timeout", metavar="DURATION",
    help="lock_timeout for migration statements (default from [tool.dbtool], 1s): give up fast behind long "
         "transactions, which would otherwise stall every query on the table behind the migration.")]
LockRetries = Annotated[Optional[int], typer.Option(
    "--lock-retries", metavar="N", show_default=False,
    help="After a lock timeout, roll the migration back and run it again up to N times, with growing pauses "
         "(default from [tool.dbtool], 10; 0: fail at the first).")]
StatementTimeout = Annotated[Optional[str], typer.Option(
    "--statement-timeout", metavar="DURATION", help="statement_timeout for migration statements (default 30min).")]
LockWait = Annotated[Optional[str], typer.Option(
    "--lock-wait", metavar="DURATION", help="How long to wait for another dbtool run's migration lock (default 60s).")]


def _settings(project, lock_timeout, statement_timeout, lock_wait, lock_retries=None):
    from .engine import Settings

    return Settings.from_project(project, lock_timeout=lock_timeout, statement_timeout=statement_timeout,
                                 lock_wait=lock_wait, lock_retries=lock_retries)


def _confirm(yes: bool, question: str, refusal: str, hint: str = "re-run with --yes to confirm") -> None:
    """Destructive commands ask in a terminal and need --yes anywhere else."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(refusal, hint=hint)
    _ask(question)


def _ask(question: str) -> bool:
    """A yes/no question on the terminal. "no" (or Ctrl-C, Ctrl-D) cancels the command: a usage
    decision, exit 2 with one line, not a finding (1) and not a failure (3)."""
    try:
        answer = typer.confirm(question, default=False)
    except typer.Abort:
        answer = False
    if not answer:
        raise UsageError("cancelled: nothing was changed")
    return True


@app.command()
def migrate(database_url: Url = None, to: Annotated[Optional[str], typer.Option(
                "--to", metavar="ID", help="Stop after this migration (id or number).")] = None,
            dry_run: Annotated[bool, typer.Option(
                "--dry-run", help="Print the SQL each pending migration would run, with the lock, transaction "
                                  "and timeouts dbtool runs it under, and the repeatable files it would re-apply; "
                                  "change nothing.")] = False,
            lock_timeout: LockTimeout = None, statement_timeout: StatementTimeout = None, lock_wait: LockWait = None,
            lock_retries: LockRetries = None, quiet: Quiet = False,
            backup_first: Annotated[bool, typer.Option(
                "--backup-first", help="Back up the database first (dbtool backup), when anything is "
                                       "pending.")] = False,
            backup_dir: Annotated[Optional[str], typer.Option(
                "--backup-dir", metavar="DIR", help="Where --backup-first writes (default: DBTOOL_BACKUP_DIR or "
                                                    "./backups).")] = None,
            json: Json = False, project: Project = None):
    """Apply pending migrations, then changed repeatable objects (sql/), then reconcile pg_cron jobs.

    Each migration and its record commit in one transaction, under an advisory lock that serialises
    concurrent runs; one that times out on a lock is rolled back and retried (--lock-retries), each
    retry reported on stderr with the session it waited for. An applied file that was edited or
    deleted stops the run (see `dbtool repair`)."""
    with handled(json):
        proj = config.load(project)
        url = db.resolve_url(database_url)
        # bad options fail before the dump
        settings = _settings(proj, lock_timeout, statement_timeout, lock_wait, lock_retries)
        archive = None
        if backup_first and not dry_run:  # commands do not call each other: the CLI chains the two
            archive = backup_cmd.backup_first(url, proj, to, backup_dir, table_progress(quiet or json))
            if archive:
                progress(quiet or json)("backup before migrating:", archive, {})
        res = migrate_cmd.migrate(url, proj, to=to, dry_run=dry_run, settings=settings,
                                  progress=progress(quiet or json), backup=archive)
        show(res, json, quiet)


@app.command()
def rollback(database_url: Url = None,
             steps: Annotated[Optional[int], typer.Option("--steps", "-n", help="Undo the newest N (default 1).")] = None,
             to: Annotated[Optional[str], typer.Option("--to", metavar="ID",
                                                       help="Undo everything applied after ID.")] = None,
             all_: Annotated[bool, typer.Option("--all", help="Undo every applied migration.")] = False,
             yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (needed when not interactive).")] = False,
             dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be undone.")] = False,
             lock_timeout: LockTimeout = None, statement_timeout: StatementTimeout = None, lock_wait: LockWait = None,
             quiet: Quiet = False, json: Json = False, project: Project = None):
    """Undo applied migrations, newest first, by running their .rollback.sql files.

    Rollbacks drop tables and columns, so they ask for confirmation; without a terminal, pass --yes."""
    with handled(json):
        proj = config.load(project)
        settings = _settings(proj, lock_timeout, statement_timeout, lock_wait)

        def confirm(ids: list[str], database: str) -> None:
            _confirm(yes, f"Roll back {', '.join(ids)} on {database}? This can destroy data",
                     f"rolling back {len(ids)} migration(s) on {database} can destroy data",
                     "re-run with --yes to confirm (or --dry-run to see what would be undone)")

        show(rollback_cmd.rollback(database_url, proj, steps=steps, to=to, all_=all_, dry_run=dry_run,
                                   settings=settings, progress=progress(quiet or json), confirm=confirm), json, quiet)


@app.command()
def status(database_url: Url = None,
           exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when anything is pending, "
                                                   "changed or missing, or migrations/ has a problem.")] = False,
           json: Json = False, project: Project = None):
    """Where the database stands: its version (newest applied migration); applied (when, by whom,
    how long), pending, changed-since-applied and missing migrations and repeatable objects; and the
    problems of migrations/ that make migrate and rollback refuse it (duplicate numbers, missing
    rollback files...), listed rather than fatal."""
    with handled(json):
        proj = config.load(project)
        url = db.resolve_url(database_url)
        show(status_cmd.status(url, proj, exit_code=exit_code), json)


@app.command()
def init(directory: Annotated[str, typer.Argument(help="The project's folder (made if missing).")] = ".",
         json: Json = False):
    """Start a dbtool project in DIRECTORY: dbtool.toml (each setting explained), migrations/ with a first
    pair, sql/functions, sql/policies, sql/views, a .gitignore for dbtool's local state. Makes only what
    is missing and never overwrites a file: running it twice changes nothing."""
    with handled(json):
        show(init_cmd.init(directory), json)


@app.command()
def new(name: Annotated[str, typer.Argument(help="verb_object, e.g. add_deal_region")],
        why: Annotated[Optional[str], typer.Option("--why", metavar="TEXT", help="Why the change is needed: "
                                                   "the header's `-- Why:` line (else a placeholder to replace, "
                                                   "which `dbtool lint` reports).")] = None,
        json: Json = False, project: Project = None):
    """Create the next NNNN_name.sql and NNNN_name.rollback.sql pair, with a header. With --why
    the pair passes `dbtool lint` as written; a name that is taken already is refused (exit 2)."""
    with handled(json):
        show(new_cmd.new(config.load(project), name, why=why), json)


@app.command()
def repair(database_url: Url = None,
           accept: Annotated[Optional[list[str]], typer.Option("--accept", metavar="ID",
                             help="An applied file was edited harmlessly: record its new checksum in this "
                                  "database (for every database, see `-- dbtool-accept-checksum:`). ID or its "
                                  "number, e.g. 0007.")] = None,
           forget: Annotated[Optional[list[str]], typer.Option("--forget", metavar="ID",
                             help="An applied file was deleted on purpose: drop its record. ID or its "
                                  "number.")] = None,
           reason: Annotated[Optional[str], typer.Option("--reason", help="Why; kept in dbtool.log.")] = None,
           json: Json = False, project: Project = None):
    """Record the DBA's decision about an edited or deleted applied migration (kept in dbtool.log).

    --accept is one database's decision. When an edit changes nothing for any database that applied
    the old file, the file itself can say so for all of them: a `-- dbtool-accept-checksum: <old
    checksum> because <reason>` line in its header, which migrate then records on each database
    (docs/engine.md)."""
    with handled(json):
        show(repair_cmd.repair(database_url, config.load(project), accept=accept or [], forget=forget or [],
                               reason=reason), json)


@app.command()
def verify(server_url: ServerUrl = None, json: Json = False, project: Project = None,
           quiet: Quiet = False, database_url: Annotated[Optional[str], typer.Option(
               "--database-url", "-d", hidden=True)] = None):
    """In a scratch database (in a throwaway local cluster, or on --server-url's server), check that
    every migration survives up, down, up with an identical catalog; report the first one that does
    not. Reads no database: DATABASE_URL is not used. Exit 1 on failure."""
    with handled(json):
        show(verify_cmd.verify(server_url, config.load(project), progress=progress(quiet or json),
                               database_url=database_url), json)


@app.command()
def doctor(database_url: Url = None, json: Json = False, project: Project = None):
    """Check the server: version, extensions, preload libraries, TimescaleDB edition, pg_cron
    placement and settings, the role background jobs run as, the health and backlog of TimescaleDB's
    jobs, the connecting role's privileges, and whether the project's migrations are all applied.
    Exit 1 when something is missing."""
    with handled(json):
        show(doctor_cmd.run(db.resolve_url(database_url), project), json)


check_app = typer.Typer(help="Checks of the live catalog beyond drift.\n\n" + EXIT_CODES, no_args_is_help=True)
app.add_typer(check_app, name="check")


@check_app.command("rls")
def check_rls(database_url: Url = None, json: Json = False, project: Project = None):
    """Audit everything a tenant-facing role can reach, read live from the catalog: tenant tables
    without enforced row-level security, relations (chunks, materialized views) whose tenant rows or
    statistics it can read without it, views that show every tenant, SECURITY DEFINER and extension
    functions it can call, pg_stat_statements, policies that trust a setting it can change, settings
    stored on its role, pg_cron jobs running as a superuser, roles that accept connections although
    they need not. Each finding names its rule (docs/rules/) and the fix. Exit 1 on findings."""
    with handled(json):
        url, proj = db.resolve_url(database_url), config.load(project)
        show(check_rls_cmd.run_audit(url, proj), json)


# ----- baseline and log -------------------------------------------------------------------------


@app.command()
def baseline(to: Annotated[str, typer.Option(
                 "--to", metavar="ID", show_default=False,
                 help="The newest migration the database already has (id or number): it and every one before "
                      "it are recorded.")],
             dry_run: Annotated[bool, typer.Option("--dry-run", help="Compare, and print what would be recorded; "
                                                   "write nothing.")] = False,
             server_url: ServerUrl = None,
             lock_wait: LockWait = None, database_url: Url = None, json: Json = False, project: Project = None):
    """Record the migrations up to --to as applied WITHOUT running them, on a database that already
    has their schema (built by hand, restored from elsewhere, or with an older ledger).

    First its catalog is compared with the schema migrations/ and sql/ build up to --to, built in a
    throwaway local cluster (or on --server-url): any difference is listed and nothing is recorded
    (exit 1). pg_cron jobs are not compared (the next migrate schedules them); a repeatable object
    that is missing or differs is left unrecorded for the next migrate to apply. Exit 3 when the
    database records a migration after --to, or a recorded file was edited or deleted. See
    docs/engine.md."""
    with handled(json):
        proj = config.load(project)
        url = db.resolve_url(database_url)
        show(baseline_cmd.baseline(url, proj, to=to, dry_run=dry_run, server_url=server_url,
                                   settings=_settings(proj, None, None, lock_wait)), json)


@app.command("log")
def log_(limit: Annotated[Optional[int], typer.Option("--limit", "-n", metavar="N",
                                                      help="Only the newest N entries.")] = None,
         database_url: Url = None, json: Json = False):
    """What dbtool did to the database, newest first: every apply, rollback, baseline, accepted
    checksum and repair, with when, who (database user @ the host dbtool ran on) and how long
    (apply and rollback), from dbtool.log. A database dbtool never touched has no log (exit 0)."""
    with handled(json):
        show(log_cmd.log(database_url, limit=limit), json)


# ----- tenant -----------------------------------------------------------------------------------

tenant_app = typer.Typer(help="Signing keys of the verified tenant context and tokens for operators "
                              "(docs/roles.md).\n\n" + EXIT_CODES, no_args_is_help=True)
key_app = typer.Typer(help="Keys that sign tenant tokens: add, list, retire (rotation: add, then retire).",
                      no_args_is_help=True)
tenant_app.add_typer(key_app, name="key")
app.add_typer(tenant_app, name="tenant")
KeyId = Annotated[str, typer.Argument(metavar="KEY_ID", help="1-32 of a-z, 0-9, _ and -, e.g. 2026-12.")]


@key_app.command("add")
def tenant_key_add(key_id: KeyId,
                   out_file: Annotated[Optional[Path], typer.Option(
                       "--out", metavar="FILE", help="Write a new random secret here (hex, mode 0600; never "
                                                     "overwritten) for the application's trusted side.")] = None,
                   secret_file: Annotated[Optional[Path], typer.Option(
                       "--secret-file", metavar="FILE", help="Add an existing secret (hex) instead.")] = None,
                   database_url: Url = None, json: Json = False, project: Project = None):
    """Add a signing key. The secret goes to a file, never to the terminal."""
    with handled(json):
        url, proj = db.resolve_url(database_url), config.load(project)
        show(tenant_cmd.add_key(url, proj, key_id, out_file, secret_file), json)


@key_app.command("list")
def tenant_key_list(database_url: Url = None, json: Json = False, project: Project = None):
    """The signing keys, when each was added and retired, and how many live tokens each signed."""
    with handled(json):
        url, proj = db.resolve_url(database_url), config.load(project)
        show(tenant_cmd.list_keys(url, proj), json)


@key_app.command("retire")
def tenant_key_retire(key_id: KeyId, database_url: Url = None, json: Json = False, project: Project = None):
    """Retire a key: every token it signed stops working at once."""
    with handled(json):
        url, proj = db.resolve_url(database_url), config.load(project)
        show(tenant_cmd.retire_key(url, proj, key_id), json)


@tenant_app.command("token")
def tenant_token(tenant: Annotated[str, typer.Argument(metavar="TENANT_ID", help="The tenant's uuid.")],
                 ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: seconds, or 15m, 8h (at most 24h).")] = "15m",
                 key_id: Annotated[Optional[str], typer.Option("--key", metavar="KEY_ID",
                                                               help="Sign with this key (default: the newest).")] = None,
                 database_url: Url = None, json: Json = False, project: Project = None):
    """Mint a signed token for a tenant (operators, reporting logins, tests), registered at once so a
    read-only connection can use it: SELECT set_tenant_context('<token>')."""
    with handled(json):
        url, proj = db.resolve_url(database_url), config.load(project)
        show(tenant_cmd.token(url, proj, tenant, ttl, key_id), json)


# ----- dev --------------------------------------------------------------------------------------

Port = Annotated[Optional[int], typer.Option("--port", help="TCP port (default: the last one, or a free one).")]


@dev_app.command("up")
def dev_up(port: Port = None,
           citus: Annotated[bool, typer.Option("--citus", help="A Citus coordinator and two workers on loopback "
                                                               "(Citus must be installed; docs/citus.md).")] = False,
           replica: Annotated[bool, typer.Option("--replica", help="Also a streaming standby of it on "
                                                 "loopback, kept by later `dev up`s (docs/replicas.md).")] = False,
           json: Json = False, project: Project = None):
    """Initialise (once) and start the local cluster, create the database, print its DATABASE_URL.

    With --citus, the first time: a Citus coordinator (the URL printed) and two workers, the database
    on each with Citus created and the workers registered; `dbtool migrate` then needs no other step.
    With --replica, once: a read-only standby streaming from it (`dbtool dev url --replica`)."""
    with handled(json):
        show(dev_cmd.run("up", config.load(project), port=port, citus=citus, replica=replica), json)


@dev_app.command("down")
def dev_down(json: Json = False, project: Project = None):
    """Stop the local cluster (data is kept)."""
    with handled(json):
        show(dev_cmd.run("down", config.load(project)), json)


@dev_app.command("reset")
def dev_reset(yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
              json: Json = False, project: Project = None):
    """Drop and recreate the application database (the cluster keeps running)."""
    with handled(json):
        proj = config.load(project)
        _confirm(yes, "Drop the dev database and everything in it?", "dev reset drops the dev database")
        show(dev_cmd.run("reset", proj), json)


@dev_app.command("url")
def dev_url(replica: Annotated[bool, typer.Option("--replica", help="The standby's URL (`dev up --replica`).")] = False,
            json: Json = False, project: Project = None):
    """Print the DATABASE_URL of the running local cluster (or of its standby)."""
    with handled(json):
        show(dev_cmd.run("url", config.load(project), replica=replica), json)


@dev_app.command("psql")
def dev_psql(project: Project = None):
    """Open psql on the local cluster's database."""
    with handled():
        argv = dev_cmd.psql_argv(config.load(project))
    os.execvp(argv[0], argv)


@dev_app.command("destroy")
def dev_destroy(yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
                project: Project = None):
    """Stop the local cluster and delete its data folder."""
    with handled():
        _confirm(yes, "Delete the dev cluster and all its data?", "dev destroy deletes the dev cluster's data")
        show(dev_cmd.run("destroy", config.load(project)))


# ----- lint -------------------------------------------------------------------------------------



@app.command()
def lint(paths: Annotated[Optional[list[str]], typer.Argument(
             help="SQL files or folders to report on (default: the project's migrations/ and sql/).",
             show_default=False)] = None,
         changed: Annotated[bool, typer.Option("--changed", help="Only files changed against git --base "
                                               "(default HEAD), untracked ones included: for pre-commit.")] = False,
         base: Annotated[Optional[str], typer.Option("--base", metavar="REV",
                                                     help="Git revision --changed compares with.")] = None,
         database_url: Annotated[Optional[str], typer.Option(
             "--database-url", "-d", metavar="URL", envvar="DBTOOL_LINT_DATABASE_URL", show_envvar=True,
             help="A database migrated to head: check PL/pgSQL bodies there (default, when no other source "
                  "is given: DATABASE_URL, then PG* variables).")] = None,
         server_url: Annotated[Optional[str], typer.Option(
             "--server-url", metavar="URL", envvar="DBTOOL_LINT_SERVER_URL", show_envvar=True,
             help="Build the scratch migrated database on this server (needs CREATEDB there; dropped "
                  "afterwards).")] = None,
         dev: Annotated[bool, typer.Option("--dev", help="Build the scratch database on the running dev "
                                           "cluster, if it is up.")] = False,
         temp_cluster: Annotated[bool, typer.Option("--temp-cluster", help="Build the scratch database in a "
                                                    "throwaway local cluster (initdb; a few seconds).")] = False,
         layer: Annotated[Optional[list[str]], typer.Option(
             "--layer", metavar="NAME", help="Run only this layer: style, safety, bodies, rules (repeatable).")] = None,
         json: Json = False, project: Project = None):
    """Lint the project's SQL: style (sqlfluff), migration safety (squawk), PL/pgSQL bodies
    (plpgsql_check) and dbtool's own rules. One finding a line, `path:line:col: severity rule message`.

    Function bodies are checked in --database-url's database, in a scratch one (--server-url,
    --temp-cluster, --dev), else in DATABASE_URL's (then the PG* variables'); without any, that layer
    is skipped with a note. Suppress a finding with `-- dbtool-lint: ignore RULE because REASON`.
    Rules and paths: [tool.dbtool.lint], docs/lint.md."""
    with handled(json):
        show(lint_cmd.lint(config.load(project), paths=paths, changed=changed, base=base, database_url=database_url,
                           server_url=server_url, dev=dev, temp_cluster=temp_cluster, layers=layer,
                           environment=True), json)


# ----- snapshot and drift -----------------------------------------------------------------------




@app.command()
def snapshot(out_file: Annotated[Optional[Path], typer.Option(
                 "--out", "-o", metavar="FILE", help="Write here instead of stdout (whole file or nothing).")] = None,
             from_migrations: Annotated[bool, typer.Option(
                 "--from-migrations", help="Snapshot the schema migrations/ and sql/ build, in a throwaway local "
                 "cluster, or in a scratch database on --server-url's server (dropped afterwards). Reads no "
                 "database. `make snapshot` uses this.")] = False,
             server_url: ServerUrl = None,
             database_url: Url = None, json: Json = False, project: Project = None):
    """Write the catalog snapshot of the live database: schemas, tables, columns, constraints, indexes,
    RLS and policies, functions, triggers, views, sequences, types, privileges, owners, comments,
    TimescaleDB objects and pg_cron jobs. Sorted and stable: the same schema gives the same text."""
    with handled(json):
        res = snapshot_cmd.run(config.load(project), out=out_file, from_migrations=from_migrations,
                               server_url=server_url, database_url=database_url, as_json=json)
        show(res)
        if out_file is None:
            sys.stdout.write(res.text)


@app.command()
def drift(against: Annotated[Optional[Path], typer.Option(
              "--against", metavar="FILE", help="Snapshot to compare with (default: schema/snapshot.yaml, the "
              "committed snapshot of head).")] = None,
          against_migrations: Annotated[bool, typer.Option(
              "--against-migrations", help="Compare with a scratch database built from migrations/ and sql/ at "
              "the live database's version, in a throwaway local cluster (or on --server-url's server).")] = False,
          server_url: ServerUrl = None,
          database_url: Url = None, json: Json = False, project: Project = None):
    """Compare the live database with what migrations/ and sql/ say it should be. Prints each
    difference as `added|removed|changed  kind  name` with the expected (-) and live (+) values.
    Exit 1 on drift, 0 when none."""
    with handled(json):
        show(drift_cmd.drift(database_url, config.load(project), against=against,
                             against_migrations=against_migrations, server_url=server_url), json)


@app.command()
def docs(out_dir: Annotated[Path, typer.Option(
             "--out", "-o", metavar="DIR", help="Folder of the documents.")] = Path("docs/schema"),
         from_migrations: Annotated[bool, typer.Option(
             "--from-migrations", help="Document the schema migrations/ and sql/ build, in a throwaway local cluster "
             "(or on --server-url's server), instead of a live database.")] = False,
         snapshot_file: Annotated[Optional[Path], typer.Option(
             "--snapshot", metavar="FILE", help="Document a snapshot file written by `dbtool snapshot` (e.g. the "
             "committed schema/snapshot.yaml) instead of a live database.")] = None,
         check: Annotated[bool, typer.Option(
             "--check", help="Write nothing; exit 1 naming the files in --out that differ from what would be "
             "written (for CI).")] = False,
         server_url: ServerUrl = None, database_url: Url = None, json: Json = False, project: Project = None):
    """Write the schema's documentation: README.md with the ER diagram (Mermaid; SVG and PNG when
    Graphviz's dot is installed) and the tenant boundary, and one Markdown page per table, view and
    materialized view (columns, constraints, indexes, triggers, RLS policies, grants, TimescaleDB
    settings, pg_cron jobs). Sorted, no timestamps: commit it, and check it in CI with --check."""
    with handled(json):
        show(docs_cmd.run(config.load(project), out_dir, check=check, database_url=database_url,
                          from_migrations=from_migrations, server_url=server_url, snapshot_file=snapshot_file), json)


# ----- backup and restore -----------------------------------------------------------------------


backup_app = typer.Typer(help="Back up the database: pg_dump in custom format (compressed) and a manifest next to it "
                         "(versions, applied migrations, per-table row counts and fingerprints, the archive's "
                         "sha256), read in the same snapshot as the dump. `list` and `prune` manage the backups "
                         "of a folder or S3 prefix. See docs/backup.md.\n\n" + EXIT_CODES)
app.add_typer(backup_app, name="backup")


@backup_app.callback(invoke_without_command=True)
def backup(ctx: typer.Context,
           out_dir: Annotated[Optional[str], typer.Option(
               "--out", "-o", metavar="DIR",
               help="Folder for the archive and its manifest (default: DBTOOL_BACKUP_DIR, else ./backups; "
                    "with --upload and no --out, nothing is kept locally).")] = None,
           encrypt_to: Annotated[Optional[str], typer.Option(
               "--encrypt-to", metavar="GPG_RECIPIENT",
               help="Encrypt with gpg to this public key (the archive becomes NAME.dump.gpg).")] = None,
           upload: Annotated[Optional[str], typer.Option(
               "--upload", metavar="s3://BUCKET/PREFIX",
               help="Upload to S3 or any S3-compatible store (endpoint: AWS_ENDPOINT_URL_S3 or "
                    "AWS_ENDPOINT_URL; credentials: the usual AWS chain).")] = None,
           storage_class: Annotated[Optional[str], typer.Option(
               "--storage-class", metavar="CLASS", help="S3 storage class of the archive, e.g. STANDARD_IA.")] = None,
           database_url: Url = None, quiet: Quiet = False, json: Json = False):
    """Back up the database (options here), or list/prune backups (sub-commands)."""
    if ctx.invoked_subcommand:
        return
    with handled(json):
        url = db.resolve_url(database_url)
        show(backup_cmd.backup(url, out_dir, encrypt_to=encrypt_to, upload=upload, storage_class=storage_class,
                               progress=table_progress(quiet or json)), json, quiet)


@backup_app.command("list")
def backup_list(location: Annotated[Optional[str], typer.Argument(
                    metavar="[DIR|s3://BUCKET/PREFIX]",
                    help="Where to look (default: DBTOOL_BACKUP_DIR or ./backups).")] = None,
                json: Json = False):
    """List the backups in a folder or S3 prefix, oldest first; `incomplete` means an interrupted
    backup (no manifest or no archive)."""
    with handled(json):
        show(backup_cmd.list_backups(location), json)


@backup_app.command("prune")
def backup_prune(location: Annotated[str, typer.Argument(metavar="DIR|s3://BUCKET/PREFIX",
                                                         help="Folder or S3 prefix holding backups.")],
                 keep_days: Annotated[int, typer.Option("--keep-days", metavar="N",
                                                        help="Delete backups older than N days.")],
                 keep_last: Annotated[int, typer.Option("--keep-last", metavar="N",
                                                        help="Whatever their age, keep the newest N complete "
                                                             "backups of each database.")] = 1,
                 dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be deleted.")] = False,
                 json: Json = False):
    """Delete backups (archive and manifest together) older than --keep-days, dated by their manifest's
    created_at (else the files' times). Other files are never touched."""
    with handled(json):
        show(backup_cmd.prune(location, keep_days, keep_last=keep_last, dry_run=dry_run), json)


@app.command()
def restore(archive: Annotated[str, typer.Argument(
                metavar="ARCHIVE", help="NAME.dump, NAME.dump.gpg or NAME.manifest.json; a path or s3:// URL. "
                                        "The manifest must be next to the archive.")],
            database_url: Annotated[Optional[str], typer.Option(
                "--database-url", "-d", metavar="URL",
                help="The database to restore into; created if it does not exist. Required.")] = None,
            yes: Annotated[bool, typer.Option(
                "--yes", "-y", help="Replace the target even if it is not empty (its content is dropped once "
                                    "the restored copy is verified). Without a terminal, needed for that.")] = False,
            quiet: Quiet = False, json: Json = False):
    """Restore a backup into an empty (or new) database and verify it against its manifest.

    The archive's sha256 is checked (and it is decrypted with gpg) before anything is written;
    it is restored into a temporary database, with TimescaleDB's pre/post-restore procedure, and
    checked table by table against the manifest; only then does it take the target's name. Any
    failure leaves the target as it was. The pg_cron jobs the database declares are scheduled."""
    with handled(json):
        confirm = _ask if sys.stdin.isatty() and not json else None
        show(restore_cmd.restore(archive, database_url, replace=yes, confirm=confirm,
                                 progress=table_progress(quiet or json)), json)


# ----- point-in-time recovery (pgBackRest) -------------------------------------------------------


pitr_app = typer.Typer(help="Point-in-time recovery with pgBackRest: WAL archiving, full/diff/incr backups, the "
                       "recoverable window and RPO, restore to a moment into a new data folder. Every pgbackrest "
                       "process runs as the server's OS user. See docs/backup.md.\n\n" + EXIT_CODES,
                       no_args_is_help=True)
app.add_typer(pitr_app, name="pitr")
Stanza = Annotated[Optional[str], typer.Option("--stanza", metavar="NAME", help="The stanza (default: the "
                                               "project's database name).", show_default=False)]
PitrHome = Annotated[Optional[str], typer.Option(
    "--home", metavar="DIR", envvar="DBTOOL_PITR_HOME",
    help="Folder holding each stanza's pgbackrest.conf, secrets, logs, locks and local repository (default: "
         ".dbtool/pitr in the project).")]


@pitr_app.command("setup")
def pitr_setup(data_dir: Annotated[Optional[str], typer.Option(
                   "--data-dir", metavar="DIR", help="Data folder of a running local cluster (default: the dev "
                                                     "cluster, `dbtool dev`).")] = None,
               database_url: Annotated[Optional[str], typer.Option(
                   "--database-url", "-d", metavar="URL", help="How dbtool connects to it as a superuser (default: "
                   "the dev cluster's URL, or the unix socket in postmaster.pid as postgres).")] = None,
               repo_url: Annotated[Optional[str], typer.Option(
                   "--repo", metavar="s3://BUCKET/PATH", help="An S3 repository (endpoint, region and keys from "
                   "the AWS_* variables); default: a local one in the stanza's home.")] = None,
               kms_key_id: Annotated[Optional[str], typer.Option(
                   "--s3-kms-key-id", metavar="KEY", help="Server-side encryption with this KMS key.")] = None,
               no_verify_tls: Annotated[bool, typer.Option(
                   "--no-verify-tls", help="Do not verify the S3 endpoint's certificate (test servers).")] = False,
               stanza: Stanza = None, home: PitrHome = None, json: Json = False, project: Project = None):
    """Configure a pgBackRest stanza for a local cluster and turn WAL archiving on: archive_mode,
    archive_command (pgbackrest archive-push), archive_timeout 60 s; reload, or restart when needed
    (said in the output); then `pgbackrest stanza-create` and `check`. The repository is encrypted
    (aes-256-cbc; passphrase from DBTOOL_PITR_CIPHER_PASS, else generated, never printed)."""
    with handled(json):
        show(pitr_cmd.configure(home, stanza, project, data_dir, url=database_url, s3_repo=repo_url,
                                kms_key_id=kms_key_id, verify_tls=not no_verify_tls), json)


@pitr_app.command("backup")
def pitr_backup(kind: Annotated[str, typer.Option("--type", metavar="full|diff|incr",
                                                  help="Backup type (pgBackRest makes a full one when none exists).")
                                ] = "incr",
                schedule: Annotated[Optional[str], typer.Option(
                    "--schedule", metavar="cron|systemd", help="Print the document's schedule (full daily, incr "
                                                               "every 6 hours) instead of backing up.")] = None,
                stanza: Stanza = None, home: PitrHome = None, json: Json = False, project: Project = None):
    """Take a pgBackRest backup; retention (full backups 30 days, WAL for the newest 28 backups: 7 days
    at the document's schedule) is pgBackRest's, applied after each backup."""
    with handled(json):
        st = pitr_cmd.load(home, stanza, project)
        show(pitr_cmd.schedule(st, schedule) if schedule else pitr_cmd.backup(st, kind), json)


@pitr_app.command("status")
def pitr_status(stanza: Stanza = None, home: PitrHome = None, json: Json = False, project: Project = None):
    """The recoverable window (earliest and latest restorable time), the backups, the last archived
    WAL and its age, failing archive commands, and the RPO (archive_timeout against the 5 minutes)."""
    with handled(json):
        show(pitr_cmd.status(pitr_cmd.load(home, stanza, project)), json)


@pitr_app.command("restore")
def pitr_restore(target_dir: Annotated[str, typer.Option("--target", metavar="DIR",
                                                          help="A new (or empty) folder for the restored data.")],
                 to: Annotated[Optional[str], typer.Option("--to", metavar="TIMESTAMP",
                                                           help="Recover to this moment (ISO 8601; no zone: UTC).")
                               ] = None,
                 to_latest: Annotated[bool, typer.Option("--to-latest", help="Recover all archived WAL.")] = False,
                 port: Annotated[Optional[int], typer.Option("--port", metavar="N",
                                                             help="Port for the copy (default: a free one).")] = None,
                 stanza: Stanza = None, home: PitrHome = None, json: Json = False, project: Project = None):
    """Restore into a NEW data folder (never over the running cluster), replay WAL to the moment, start
    the copy on a free port, check it reached the target, and print how to swap it in. A missing or
    damaged WAL segment is an error naming it, never a silently older database."""
    with handled(json):
        show(pitr_cmd.restore(pitr_cmd.load(home, stanza, project), to, to_latest, target_dir, port), json)


# ----- seed -------------------------------------------------------------------------------------




@app.command(add_help_option=False, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def seed(ctx: typer.Context, project: Project = None):
    """Run the project's demo-data generator, [tool.dbtool] seed, with these arguments
    (`dbtool seed --help` shows its options)."""
    # --help and every other option but --project are the generator's: it parses them and exits itself.
    with handled("--json" in ctx.args):
        code = seed_cmd.run(config.load(project), ctx.args, prog_name=ctx.command_path)
    raise typer.Exit(code)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
