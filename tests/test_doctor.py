"""`dbtool doctor` on a prepared server and on an untouched one; pg_cron's settings and who its jobs
run as; the role background jobs start as; TimescaleDB's job health and backlog; half-migrated databases.

Job health has two sides on the community edition. The session cluster runs no TimescaleDB background
worker (timescaledb.max_background_workers = 0), so its jobs never run on their own: there, doctor's
backlog checks are seen before and after CALL run_job. The slow tests start a cluster of their own with
background workers, let the scheduler run the jobs, and read what it recorded: PostgreSQL 15.20 with
TimescaleDB 2.19 records every run as failed (PortalDrop, SQLSTATE 24000) although its work committed,
and a run that really fails records its own SQLSTATE. TimescaleDB's policies exist only in the
community edition, so those tests skip on the Apache one."""

import itertools
import json
import os
import time
from pathlib import Path

import psycopg
import pytest
from pytest_postgresql import factories
from typer.testing import CliRunner

from dbtool import cluster, cron
from dbtool.cli import app
from dbtool.commands.doctor import doctor
from dbtool.commands.migrate import migrate

# The project's migrations: doctor compares the database with them.
_IDS = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "migrations").glob("[0-9]*.sql")
              if not p.stem.endswith(".rollback"))
HEAD, HEAD_ID = len(_IDS), _IDS[-1]

runner = CliRunner()
COMMUNITY_ONLY = ("timescaledb.license is 'apache' (Debian's build): TimescaleDB's policies and continuous "
                  "aggregates exist only in the community edition; set PG_BINDIR to one (README)")


def conn_version(url, ext):
    with psycopg.connect(url) as c:
        return c.execute("SELECT extversion FROM pg_extension WHERE extname = %s", [ext]).fetchone()[0]


def by_name(checks):
    return {c.name: c for c in checks}


def edition(url) -> str:
    with psycopg.connect(url) as c:
        return c.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0]


def job_of(conn, proc: str) -> int:
    """The id of activity_timeline's (or its continuous aggregate's) job running `proc`."""
    return conn.execute("""SELECT j.id FROM _timescaledb_config.bgw_job j
                           JOIN _timescaledb_catalog.hypertable h ON h.id = j.hypertable_id
                           WHERE j.proc_name = %s AND (h.schema_name = 'timeline'
                                 OR h.id IN (SELECT mat_hypertable_id FROM _timescaledb_catalog.continuous_agg))""",
                        [proc]).fetchone()[0]


def job_checks(checks, job_id: int) -> dict:
    """health / schedule / backlog checks of one TimescaleDB job, by suffix."""
    mine = [c for c in checks if c.name.startswith(f"timescaledb job {job_id} (")]
    return {("health" if c.name.endswith(")") else c.name.rsplit(" ", 1)[1]): c for c in mine}


def add_events(conn, *ages: str) -> None:
    """One tenant (as the superuser: no tenant context needed) and one event per age ('30 days')."""
    tenant = conn.execute("INSERT INTO tenants (subdomain, company_name) VALUES ('doctor', 'Doctor') "
                          "RETURNING id").fetchone()[0]
    for age in ages:
        conn.execute("INSERT INTO timeline.activity_timeline (time, tenant_id, event_type) "
                     "VALUES (now() - %s::interval, %s, 'login')", [age, tenant])


# ----- the prepared server and an untouched one --------------------------------------------------


def test_doctor_is_clean_on_the_prepared_test_server(migrated_db, server, conn_to, project):
    conn_to(server.url("postgres")).execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
    cron.sync(migrated_db, conn_to(migrated_db))  # as `dbtool migrate` leaves it (the template skips it)
    checks = by_name(doctor(migrated_db, project))
    assert {c.status for c in checks.values()} == {"ok"}, [c for c in checks.values() if c.status != "ok"]
    installed = conn_version(migrated_db, "vector")
    assert checks["extension vector"].value.startswith(f"installed {installed} (available ")
    if edition(migrated_db) == "timescale":
        assert checks["timescaledb edition"].value.startswith("timescale — community edition: migration 0018")
    else:
        assert checks["timescaledb edition"].value.startswith("apache — Apache edition")
    assert "database 'postgres'" in checks["cron.database_name"].value
    assert checks["connecting role"].value == "postgres: superuser"
    assert checks["cron.use_background_workers"].value.startswith("on: jobs run in background workers as "
                                                                  "maplatform_owner")
    assert checks["cron.enable_superuser_jobs"].value.startswith("off")
    assert checks["cron jobs' role"].value.endswith("all run as maplatform_owner")
    assert checks["job role maplatform_owner"].value.startswith("LOGIN, CONNECTION LIMIT 0, not a superuser; "
                                                                "owns ops.cron_jobs and activity_timeline's hypertable")
    assert checks["migrations"].value == f"all {HEAD} applied (head {HEAD_ID})"
    assert checks["audit log"].value.startswith("pgaudit.log = ddl, role")


def test_doctor_says_nothing_of_replication_on_a_server_without_standbys_or_slots(migrated_db, project):
    """A standby's own lines and a primary's standbys: tests/test_replica.py, on a real one."""
    names = by_name(doctor(migrated_db, project))
    assert not [n for n in names if n.startswith(("standby", "replication slot", "max_standby", "hot_standby"))]


def test_doctor_warns_when_pg_cron_is_not_yet_created_in_the_cron_database(migrated_db, server, conn_to):
    cron_db = conn_to(server.url("postgres"))
    if cron_db.execute("SELECT to_regclass('cron.job')").fetchone()[0]:
        assert cron_db.execute("SELECT count(*) FROM cron.job").fetchone()[0] == 0, \
            "another test left cron jobs behind; dropping pg_cron here would delete them"
    cron_db.execute("DROP EXTENSION IF EXISTS pg_cron")
    try:
        check = by_name(doctor(migrated_db))["cron.database_name"]
        assert check.status == "warn" and "CREATE EXTENSION pg_cron in postgres" in check.fix
    finally:
        cron_db.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")


def test_doctor_names_each_missing_item_with_its_fix_on_an_untouched_server(bare_server, project):
    checks = by_name(doctor(bare_server.url(), project))
    pre = checks["shared_preload_libraries"]
    assert pre.status == "missing"
    assert "pg_stat_statements,pg_cron,timescaledb" in pre.fix and "restart" in pre.fix
    assert checks["pg_cron"].status == "missing"
    assert checks["timescaledb edition"].status == "missing"
    assert checks["extension vector"].status == "ok"  # the package is installed, only preload is missing


def test_doctor_cli_exits_1_with_findings_and_prints_json(bare_server, project):
    res = runner.invoke(app, ["doctor", "-d", bare_server.url(), "--json", "--project", str(project.root)])
    assert res.exit_code == 1
    rows = json.loads(res.stdout)
    assert any(r["name"] == "shared_preload_libraries" and r["status"] == "missing" for r in rows)
    # a database never migrated is not an error before the first `dbtool migrate`
    assert {"name": "migrations", "status": "warn", "value": f"not migrated yet: all {HEAD} pending",
            "fix": "`dbtool migrate`"} in rows


def test_doctor_cli_outside_a_project_says_the_migrations_were_not_checked(bare_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DBTOOL_PROJECT", raising=False)
    res = runner.invoke(app, ["doctor", "-d", bare_server.url(), "--json"])
    (row,) = [r for r in json.loads(res.stdout) if r["name"] == "migrations"]
    assert (row["status"], row["value"]) == (
        "warn", "not checked: no dbtool project here (nor what its schema needs of the server)")


def test_doctor_cli_exits_0_on_a_fit_server(migrated_db, project):
    res = runner.invoke(app, ["doctor", "-d", migrated_db, "--project", str(project.root)])
    assert res.exit_code == 0, res.output
    assert "timescaledb edition" in res.stdout
    assert f"ok       migrations: all {HEAD} applied" in res.stdout


def test_doctor_reports_the_time_series_path_the_migrations_took(migrated_db, project):
    check = by_name(doctor(migrated_db, project))["time-series path taken"]
    assert check.status == "ok"
    if edition(migrated_db) == "timescale":
        assert check.value == ("retention: timescaledb retention policy; daily_activity_summary: continuous aggregate; "
                               "compression: enabled, with a compression policy")
    else:
        assert "retention: pg_cron job activity_timeline_retention (drop_chunks)" in check.value
        assert "daily_activity_summary: materialized view refreshed by pg_cron" in check.value


def test_doctor_tells_a_member_of_the_owner_role_it_may_migrate_and_a_stranger_what_to_grant(migrated_db, conn_to,
                                                                                             project):
    c = conn_to(migrated_db)
    c.execute("DO $$BEGIN CREATE ROLE doctor_member LOGIN IN ROLE maplatform_owner; "
              "CREATE ROLE doctor_stranger LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$")
    member = by_name(doctor(migrated_db.replace("//postgres@", "//doctor_member@"), project))
    assert member["member of maplatform_owner"].status == "ok"
    stranger = by_name(doctor(migrated_db.replace("//postgres@", "//doctor_stranger@"), project))
    assert stranger["member of maplatform_owner"].fix == "GRANT maplatform_owner TO doctor_stranger; (migrations SET ROLE to it)"
    # pg_cron's settings are superuser-only: the stranger is told what to grant instead of a guess
    for name in ("cron.use_background_workers", "cron.enable_superuser_jobs"):
        assert stranger[name].status == "warn" and stranger[name].value == "not readable by this role"
        assert stranger[name].fix.startswith("as a superuser: GRANT pg_read_all_settings TO doctor_stranger;")
    assert stranger["job role maplatform_owner"].status == "ok"  # pg_roles is readable by every role


def test_doctor_in_a_project_whose_configuration_is_broken_says_so_instead_of_checking_less(bare_server, tmp_path,
                                                                                          monkeypatch):
    (tmp_path / "dbtool.toml").write_text("extensions = [unquoted]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DBTOOL_PROJECT", raising=False)
    res = runner.invoke(app, ["doctor", "-d", bare_server.url()])
    assert res.exit_code == 2 and "invalid TOML" in res.output, res.output


def test_outside_a_project_doctor_requires_nothing_of_the_schema(bare_server):
    """No project: no extension, preload or role is required; what the server loads is still read."""
    checks = by_name(doctor(bare_server.url()))
    assert not [n for n in checks if n.startswith("extension ") or n.startswith("member of ")]
    assert checks["shared_preload_libraries"].status == "ok" and "pg_cron" not in checks


def test_a_project_without_timescaledb_or_pg_cron_gets_no_check_of_them(bare_server, tmp_path):
    from dbtool import config
    (tmp_path / "dbtool.toml").write_text('extensions = ["pg_trgm"]\npreload = []\n')
    checks = by_name(doctor(bare_server.url(), config.load(tmp_path)))
    assert checks["extension pg_trgm"].status == "ok"
    assert {c.status for c in checks.values()} <= {"ok", "warn"}, checks
    assert "timescaledb edition" not in checks and "pg_cron" not in checks


def test_a_project_that_declares_no_hypertable_or_owner_gets_no_check_of_another_schemas(migrated_db, tmp_path):
    """The M&A database seen by a project that uses TimescaleDB and pg_cron but declares none of its
    hypertables, capabilities view, owner role or cron table: doctor checks only what that project said."""
    from dbtool import config
    (tmp_path / "dbtool.toml").write_text('preload = ["pg_cron", "timescaledb"]\ncron_table = "public.shop_jobs"\n')
    checks = by_name(doctor(migrated_db, config.load(tmp_path)))
    assert checks["timescaledb edition"].value in ("apache — Apache edition", "timescale — community edition")
    assert "time-series path taken" not in checks
    assert not [n for n in checks if n.startswith(("timescaledb job", "job role", "member of", "cron jobs"))], checks
    assert "maplatform" not in checks["cron.use_background_workers"].value


def test_a_hypertable_named_without_its_schema_is_a_usage_error_naming_the_key(tmp_path):
    from dbtool import config
    from dbtool.commands.doctor import Needs
    from dbtool.errors import UsageError
    (tmp_path / "dbtool.toml").write_text('[timescaledb]\nhypertables = ["activity_timeline"]\n')
    with pytest.raises(UsageError, match=r"\[tool\.dbtool\.timescaledb\] hypertables must be"):
        Needs.of(config.load(tmp_path))


# ----- pg_cron: settings and who the jobs run as -------------------------------------------------


doctor_proc = factories.postgresql_proc(
    executable=str(cluster.WRAPPER), port=None, dbname="doctor_unused",
    postgres_options=" ".join([
        f"-c shared_preload_libraries='{cluster.PRELOAD}'", "-c timescaledb.telemetry_level=off",
        # pg_cron's defaults, spelled out: jobs connect through libpq, and may run as a superuser
        "-c cron.use_background_workers=off", "-c cron.enable_superuser_jobs=on",
        # TimescaleDB's scheduler on, so that its jobs run by themselves (the slow tests)
        "-c timescaledb.max_background_workers=8", "-c max_worker_processes=16",
        "-c fsync=off", "-c synchronous_commit=off"]))


@pytest.fixture(scope="module")
def doctor_server(doctor_proc, server):
    """A cluster of this module's own: pg_cron as it comes (libpq connections, superuser jobs allowed)
    and TimescaleDB's background workers on, which the shared session cluster must not change."""
    return type(server)(host=doctor_proc.host, port=doctor_proc.port, user=doctor_proc.user,
                  template=doctor_proc.template_dbname)


def test_doctor_reports_pg_cron_settings_that_stop_or_endanger_the_jobs(doctor_server, project):
    checks = by_name(doctor(doctor_server.url("postgres"), project))  # no cron table yet: the owner role's
    workers = checks["cron.use_background_workers"]
    assert workers.status == "missing"
    assert workers.value.startswith("off: pg_cron connects through libpq as maplatform_owner, and maplatform_owner's "
                                    "CONNECTION LIMIT 0 (migration 0016) refuses that connection: every job fails")
    assert workers.fix.startswith("ALTER SYSTEM SET cron.use_background_workers = on; then restart the server")
    assert "max_worker_processes" in workers.fix
    superuser = checks["cron.enable_superuser_jobs"]
    assert superuser.status == "warn"
    assert superuser.value.startswith("on: pg_cron would run a job scheduled as a superuser")
    assert superuser.fix == "ALTER SYSTEM SET cron.enable_superuser_jobs = off; then restart the server"


def test_doctor_reports_a_job_of_this_database_scheduled_as_a_superuser(migrated_db, server, conn_to):
    cron_db = conn_to(server.url("postgres"))
    cron_db.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
    cron.sync(migrated_db, conn_to(migrated_db))
    database = migrated_db.rsplit("/", 1)[1]
    jobid = cron_db.execute("""INSERT INTO cron.job (schedule, command, nodename, nodeport, database, username,
                                                     jobname, active)
                               VALUES ('0 0 1 1 *', 'SELECT 1', 'localhost', %s, %s, 'postgres', %s, false)
                               RETURNING jobid""", [server.port, database, f"doctor_su@{database}"]).fetchone()[0]
    try:
        checks = by_name(doctor(migrated_db))
    finally:
        cron_db.execute("DELETE FROM cron.job WHERE jobid = %s", [jobid])
    role = checks["cron jobs' role"]
    assert role.status == "missing"
    assert role.value.startswith(f"doctor_su@{database} runs as postgres (a superuser): jobs must run as "
                                 "maplatform_owner, the owner of ops.cron_jobs, and never as a superuser")
    assert role.fix.startswith("`dbtool migrate` reschedules the declared jobs as maplatform_owner")
    assert checks["cron jobs scheduled"].status == "warn"
    assert checks["cron jobs scheduled"].value == "in pg_cron, not declared: doctor_su"


def test_doctor_reports_a_job_role_that_cannot_log_in_or_accepts_clients(migrated_db, conn_to, project):
    c = conn_to(migrated_db)
    login, limit = c.execute("SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = 'maplatform_owner'"
                             ).fetchone()
    c.execute("ALTER ROLE maplatform_owner NOLOGIN CONNECTION LIMIT 5")  # cluster-wide: restored below
    try:
        check = by_name(doctor(migrated_db, project))["job role maplatform_owner"]  # the hypertables it declares
    finally:
        c.execute(f"ALTER ROLE maplatform_owner {'LOGIN' if login else 'NOLOGIN'} CONNECTION LIMIT {int(limit)}")
    assert check.status == "missing"
    assert check.value.startswith("owns ops.cron_jobs and activity_timeline's hypertable; NOLOGIN: no background "
                                  "worker can start as it")
    assert "CONNECTION LIMIT 5: clients may connect as the owner of every object" in check.value
    assert check.fix == "as a superuser: ALTER ROLE maplatform_owner LOGIN CONNECTION LIMIT 0;"


# ----- migrations --------------------------------------------------------------------------------


def test_doctor_reports_a_half_migrated_database_with_its_pending_migrations(empty_db, project):
    migrate(empty_db, project, to="0008", sync_cron=False)
    check = by_name(doctor(empty_db, project))["migrations"]
    assert check.status == "missing"
    assert check.value.startswith(f"8 of {HEAD} applied (last 0008_create_ai_analyses_and_valuations, ")
    assert (f"{HEAD - 8} pending: 0009_create_activity_timeline .. {HEAD_ID}; "
            "0009_create_activity_timeline failed or was never run") in check.value
    assert check.fix.startswith("`dbtool migrate`")
    res = runner.invoke(app, ["doctor", "-d", empty_db, "--project", str(project.root), "--json"])
    assert res.exit_code == 1
    assert [r["status"] for r in json.loads(res.stdout) if r["name"] == "migrations"] == ["missing"]


def test_doctor_cli_reports_a_project_migration_the_database_lacks(migrated_db, tmp_project):
    tmp_project.copy_real_migrations()
    note = f"{int(HEAD_ID[:4]) + 1:04d}_add_doctor_note"
    tmp_project.pair(note, "CREATE TABLE ops.doctor_note (id int);", "DROP TABLE ops.doctor_note;")
    res = runner.invoke(app, ["doctor", "-d", migrated_db, "--project", str(tmp_project.path), "--json"])
    assert res.exit_code == 1
    (row,) = [r for r in json.loads(res.stdout) if r["name"] == "migrations"]
    assert row["status"] == "missing" and f"1 pending: {note}; {note} failed" in row["value"]


# ----- TimescaleDB: the community edition's policies ---------------------------------------------


def test_doctor_reports_a_community_database_at_0018_without_its_compression_policy(migrated_db, conn_to, project):
    c = conn_to(migrated_db)
    if edition(migrated_db) != "timescale":
        pytest.skip(COMMUNITY_ONLY)
    c.execute("SELECT remove_compression_policy('timeline.activity_timeline')")
    check = by_name(doctor(migrated_db, project))["time-series path taken"]
    assert check.status == "missing"
    assert check.value.endswith("the community edition at migration 0018 should have compression: enabled, with a "
                                "compression policy")
    assert check.fix == "SELECT add_compression_policy('timeline.activity_timeline', INTERVAL '7 days');"


def test_doctor_reports_each_policy_backlog_until_call_run_job_does_the_work(migrated_db, conn_to):
    c = conn_to(migrated_db)
    if edition(migrated_db) != "timescale":
        pytest.skip(COMMUNITY_ONLY)
    add_events(c, "30 days", "800 days")
    jobs = {p: job_of(c, p) for p in ("policy_compression", "policy_retention", "policy_refresh_continuous_aggregate")}
    before = doctor(migrated_db)
    for proc, jid in jobs.items():
        checks = job_checks(before, jid)
        assert checks["health"].status == "ok" and "has not run yet" in checks["health"].value
        assert checks["backlog"].status == "missing", checks["backlog"]
        assert checks["backlog"].fix == f"CALL run_job({jid});"
    assert "are not compressed" in job_checks(before, jobs["policy_compression"])["backlog"].value
    assert "older than drop_after 1 year (+ one schedule interval) are still there" in \
        job_checks(before, jobs["policy_retention"])["backlog"].value
    assert "has nothing materialized yet" in \
        job_checks(before, jobs["policy_refresh_continuous_aggregate"])["backlog"].value
    for jid in jobs.values():
        c.execute("CALL run_job(%s)", [jid])
    after = doctor(migrated_db)
    for jid in jobs.values():
        checks = job_checks(after, jid)
        assert {k: v.status for k, v in checks.items()} == {"health": "ok", "backlog": "ok"}, checks
        assert "has not run yet" in checks["health"].value  # a client's CALL records no run


# ----- TimescaleDB: runs of its own scheduler (slow) ---------------------------------------------


_names = itertools.count(1)


@pytest.fixture
def scheduled_db(migrated_db, request, project):
    """A database at head on the cluster with TimescaleDB background workers (community only)."""
    if edition(migrated_db) != "timescale":  # the edition of the session cluster's build, which both run
        pytest.skip(COMMUNITY_ONLY)
    bg = request.getfixturevalue("doctor_server")
    name = f"bg{next(_names)}_{os.getpid()}"
    with bg.admin() as c:
        for attempt in range(20):  # TimescaleDB's launcher may be looking into template1
            try:
                c.execute(f'CREATE DATABASE "{name}"')
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 19:
                    raise
                time.sleep(0.1)
    url = bg.url(name)
    migrate(url, project, sync_cron=False)
    with psycopg.connect(url, autocommit=True) as c:
        first_runs_ended(c)
    yield url
    with bg.admin() as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def first_runs_ended(conn, timeout: float = 10) -> None:
    """The scheduler starts the policies as soon as it finds them, i.e. right after 0018: wait until
    those runs have ended, so that neither a restart of the scheduler kills one nor its end overwrites
    the next_start a test sets."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = conn.execute("""SELECT count(*) FROM _timescaledb_config.bgw_job j
                                  LEFT JOIN _timescaledb_internal.bgw_job_stat s ON s.job_id = j.id
                                  WHERE j.hypertable_id IS NOT NULL
                                    AND (s.job_id IS NULL OR NOT (isfinite(s.last_finish)
                                                                  AND s.last_finish >= s.last_start))""").fetchone()[0]
        if not running:
            return
        time.sleep(0.1)


def run_by_scheduler(conn, *job_ids: int, timeout: float = 10) -> None:
    """Have TimescaleDB's scheduler start the jobs now, and wait until each has finished a run."""
    since = conn.execute("SELECT clock_timestamp()").fetchone()[0]
    for jid in job_ids:
        conn.execute("SELECT alter_job(%s, next_start => now())", [jid])
    # The scheduler notices a changed next_start within seconds; restarted, it starts due jobs at once.
    conn.execute("SELECT _timescaledb_functions.restart_background_workers()")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = conn.execute("""SELECT count(*) FROM _timescaledb_internal.bgw_job_stat
                               WHERE job_id = ANY (%s) AND last_start >= %s AND last_finish >= last_start""",
                            [list(job_ids), since]).fetchone()[0]
        if done == len(job_ids):
            return
        time.sleep(0.1)
    stats = conn.execute("SELECT s::text FROM _timescaledb_internal.bgw_job_stat s WHERE job_id = ANY (%s)",
                         [list(job_ids)]).fetchall()
    raise AssertionError(f"TimescaleDB's scheduler did not run jobs {job_ids} within {timeout} s: {stats}")


@pytest.mark.slow
def test_doctor_reports_a_background_run_recorded_failed_after_its_work_committed_as_warn(scheduled_db, conn_to):
    c = conn_to(scheduled_db)
    add_events(c, "30 days")
    compression, refresh = job_of(c, "policy_compression"), job_of(c, "policy_refresh_continuous_aggregate")
    c.execute("SELECT alter_job(%s, max_retries => 1)", [refresh])  # a job TimescaleDB will give up on
    run_by_scheduler(c, compression, refresh)
    pg = c.execute("SHOW server_version").fetchone()[0].split()[0]
    ts = c.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()[0]
    recorded = c.execute("SELECT last_run_success, total_successes FROM _timescaledb_internal.bgw_job_stat "
                         "WHERE job_id = %s", [compression]).fetchone()
    if recorded[0]:
        pytest.skip(f"PostgreSQL {pg} with TimescaleDB {ts} records the run as a success: this server does not "
                    "have the PortalDrop false failure")
    checks = doctor(scheduled_db)
    health = job_checks(checks, compression)["health"]
    assert health.status == "warn"
    assert health.value.startswith("last run ") and " is recorded as failed, but its work committed: on PostgreSQL " \
        f"{pg} with TimescaleDB {ts} the job commits" in health.value
    assert "(PortalDrop: cannot drop portal \"\" while it is being set up, SQLSTATE 24000)" in health.value
    # the work was done: the chunk is compressed, and the backlog check says so
    assert c.execute("SELECT bool_and(is_compressed) FROM timescaledb_information.chunks "
                     "WHERE hypertable_name = 'activity_timeline'").fetchone()[0] is True
    assert job_checks(checks, compression)["backlog"].status == "ok"
    assert "schedule" not in job_checks(checks, compression)  # max_retries -1: it stays scheduled
    refreshed = job_checks(checks, refresh)
    assert refreshed["health"].status == "warn" and refreshed["backlog"].status == "ok"
    assert refreshed["schedule"].status == "missing"
    assert "max_retries = 1 while its runs are recorded as failed" in refreshed["schedule"].value
    assert f"SELECT alter_job({refresh}, max_retries => -1);" in refreshed["schedule"].fix


@pytest.mark.slow
def test_doctor_reports_a_background_run_that_really_failed_as_missing_with_its_sqlstate(scheduled_db, conn_to):
    c = conn_to(scheduled_db)
    add_events(c, "800 days")
    chunk = c.execute("SELECT format('%I.%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks "
                      "WHERE hypertable_name = 'activity_timeline'").fetchone()[0]
    c.execute(f"CREATE VIEW public.doctor_pin AS SELECT * FROM {chunk}")  # drop_chunks cannot drop it now
    retention = job_of(c, "policy_retention")
    run_by_scheduler(c, retention)
    checks = job_checks(doctor(scheduled_db), retention)
    assert checks["health"].status == "missing"
    assert f"failed: SQLSTATE 2BP01: cannot drop table {chunk} because other objects depend on it" in \
        checks["health"].value
    assert checks["health"].fix.startswith(f"fix the cause, then CALL run_job({retention})")
    assert checks["backlog"].status == "missing" and checks["backlog"].fix == f"CALL run_job({retention});"
