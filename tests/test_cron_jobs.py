"""The document's pg_cron jobs: declared with its schedules, scheduled by dbtool in either placement of
the cron database, leaving no duplicate or orphan, and each command really runs as pg_cron runs it.

pg_cron (1.4) runs each job in the job's database and sends the command as one query string: the
simple query protocol, so a command of several statements runs as one implicit transaction. The
tests send each command exactly that way (libpq PQexec), and one slow test lets pg_cron itself run
them, in background workers (cron.use_background_workers, as the test clusters and the dev cluster
run it), as the owner of the jobs table.
"""

from __future__ import annotations

import re
import time
import uuid

import psycopg
import pytest
from pytest_postgresql import factories

from dbtool import cluster, cron
from dbtool.commands.migrate import migrate
from dbtool.commands.rollback import rollback
from dbtool.errors import DbtoolError
from schema_support import cloned_db, seed_tenant

DOCUMENT_JOBS = {
    "refresh_pipeline_analytics": "*/15 * * * *",
    "vacuum_analyze": "0 3 * * *",
    "update_statistics": "0 4 * * *",
    "cleanup_sessions": "0 * * * *",
    "archive_activities": "0 2 * * 0",
}
AUDIT_JOBS = {"audit_events_retention": "45 3 * * *"}  # 0023: the audit trail's 7-year retention
APACHE_JOBS = {"refresh_daily_activity_summary": "5 * * * *", "activity_timeline_retention": "30 1 * * *"}
DOCUMENT_VACUUM = """
    VACUUM ANALYZE deals;
    VACUUM ANALYZE activities;
    VACUUM ANALYZE documents;
"""

SAME_DB = "cronapp"
cron_same_db_proc = factories.postgresql_proc(
    executable=str(cluster.WRAPPER), port=None, dbname="cronapp_unused",
    postgres_options=" ".join([f"-c shared_preload_libraries='{cluster.PRELOAD}'", f"-c cron.database_name={SAME_DB}",
                               "-c timescaledb.telemetry_level=off", "-c fsync=off"]))


def declared(conn) -> dict[str, tuple[str, str]]:
    return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT jobname, schedule, command FROM ops.cron_jobs")}


TOKEN_JOBS = {"cleanup_tenant_tokens": "20 * * * *"}


def expected_jobs(conn) -> dict[str, str]:
    """The community edition runs retention and the daily summary as TimescaleDB policies (0018)."""
    apache = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0] != "timescale"
    return {**DOCUMENT_JOBS, **TOKEN_JOBS, **AUDIT_JOBS, **(APACHE_JOBS if apache else {})}


def in_pg_cron(cron_conn, database) -> dict[str, tuple[str, str]]:
    rows = cron_conn.execute("SELECT jobname, schedule, command, database FROM cron.job WHERE database = %s",
                             [database]).fetchall()
    assert all(r[0].endswith("@" + database) for r in rows), rows
    names = [r[0] for r in rows]
    assert len(names) == len(set(names)), f"duplicate jobs: {names}"
    return {r[0].rsplit("@", 1)[0]: (r[1], r[2]) for r in rows}


def run_like_pg_cron(conn: psycopg.Connection, command: str):
    """One PQexec of the whole command text: simple query protocol, as pg_cron sends it."""
    res = conn.pgconn.exec_(command.encode())
    return res.status, (res.error_message or b"").decode().strip()


OK = (psycopg.pq.ExecStatus.COMMAND_OK, psycopg.pq.ExecStatus.TUPLES_OK)


def test_the_document_jobs_are_declared_with_the_document_schedules(migrated_db, conn_to):
    c = conn_to(migrated_db)
    assert {k: v[0] for k, v in declared(c).items()} == expected_jobs(c)


def test_jobs_are_scheduled_in_another_cron_database_once_and_removed_on_rollback(db_factory, server, project):
    url = db_factory(template=server.template)
    name = url.rsplit("/", 1)[1]
    first = migrate(url, project)  # nothing to apply; schedules the declared jobs
    again = migrate(url, project)
    with psycopg.connect(server.url("postgres"), autocommit=True) as cron_conn, \
            psycopg.connect(url, autocommit=True) as app:
        want = declared(app)
        assert in_pg_cron(cron_conn, name) == want
        assert sorted(first.cron["scheduled"]) == sorted(want) and sorted(again.cron["unchanged"]) == sorted(want)
        rollback(url, project, to="0011")  # before the document's jobs
        left = in_pg_cron(cron_conn, name)
        assert set(left) == set(APACHE_JOBS)  # 0009 declares them on both editions; 0018 drops them on community
        rollback(url, project, all_=True)
        assert in_pg_cron(cron_conn, name) == {}


def test_jobs_are_scheduled_when_the_application_database_is_the_cron_database(cron_same_db_proc, project):
    host, port, user = cron_same_db_proc.host, cron_same_db_proc.port, cron_same_db_proc.user
    admin_url = f"postgresql://{user}@{host}:{port}/postgres"
    url = f"postgresql://{user}@{host}:{port}/{SAME_DB}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SAME_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {SAME_DB}")
    try:
        migrate(url, project)
        migrate(url, project)
        with psycopg.connect(url, autocommit=True) as c:
            assert c.execute("SELECT current_setting('cron.database_name')").fetchone()[0] == SAME_DB
            want = declared(c)
            assert len(want) >= 6 and in_pg_cron(c, SAME_DB) == want
        rollback(url, project, to="0011")
        with psycopg.connect(url, autocommit=True) as c:
            assert set(in_pg_cron(c, SAME_DB)) == set(APACHE_JOBS)
        rollback(url, project, all_=True)  # 0001's rollback drops pg_cron here: its jobs go with it
        with psycopg.connect(url, autocommit=True) as c:
            assert c.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'").fetchone()[0] == 0
        migrate(url, project)
        with psycopg.connect(url, autocommit=True) as c:
            assert in_pg_cron(c, SAME_DB) == want
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {SAME_DB} WITH (FORCE)")


def test_rolling_back_everything_keeps_pg_cron_while_it_holds_another_databases_jobs(cron_same_db_proc, project):
    host, port, user = cron_same_db_proc.host, cron_same_db_proc.port, cron_same_db_proc.user
    admin_url = f"postgresql://{user}@{host}:{port}/postgres"
    url = f"postgresql://{user}@{host}:{port}/{SAME_DB}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {SAME_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {SAME_DB}")
    try:
        migrate(url, project)
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("SELECT cron.schedule_in_database('other_job', '0 5 * * *', 'SELECT 1', 'postgres')")
        rollback(url, project, all_=True)
        with psycopg.connect(url, autocommit=True) as c:
            assert c.execute("SELECT jobname, database FROM cron.job").fetchall() == [("other_job", "postgres")]
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {SAME_DB} WITH (FORCE)")


@pytest.fixture(scope="module")
def jobs_db(server):
    with cloned_db(server, "cronjobs") as url:
        with psycopg.connect(url, autocommit=True) as c:
            a, b = seed_tenant(c, "cron-a"), seed_tenant(c, "cron-b")
        yield url, a, b


def test_every_declared_command_runs_as_pg_cron_sends_it(jobs_db, conn_to):
    c = conn_to(jobs_db[0])
    results = {job: run_like_pg_cron(c, command) for job, (_, command) in declared(c).items()}
    assert {job: r for job, r in results.items() if r[0] not in OK} == {}


def test_the_documents_three_vacuums_in_one_command_fail_as_pg_cron_would_run_them(jobs_db, conn_to):
    """Why vacuum_analyze is one VACUUM over three tables: three statements in one query string form
    one implicit transaction, and VACUUM refuses to run inside one."""
    status, error = run_like_pg_cron(conn_to(jobs_db[0]), DOCUMENT_VACUUM)
    assert status == psycopg.pq.ExecStatus.FATAL_ERROR and "VACUUM cannot run inside a transaction block" in error


def test_vacuum_analyze_really_vacuums_the_three_tables(jobs_db, conn_to):
    c = conn_to(jobs_db[0])
    before = dict(c.execute("SELECT relname, vacuum_count FROM pg_stat_user_tables "
                            "WHERE relname IN ('deals', 'activities', 'documents')"))
    run_like_pg_cron(c, declared(c)["vacuum_analyze"][1])
    time.sleep(0.6)  # statistics are flushed to the cumulative stats system at most every 500 ms
    c.execute("SELECT pg_stat_clear_snapshot()")
    after = dict(c.execute("SELECT relname, vacuum_count FROM pg_stat_user_tables "
                           "WHERE relname IN ('deals', 'activities', 'documents')"))
    assert all(after[t] > before[t] for t in before), (before, after)


def test_archive_activities_moves_year_old_rows_of_every_tenant_and_keeps_the_rest(jobs_db, conn_to):
    url, a, b = jobs_db
    c = conn_to(url)
    ages = {"two years": "2 years", "thirteen months": "13 months", "eleven months": "11 months", "today": "0"}
    ids = {}
    for t in (a, b):
        for label, age in ages.items():
            ids[(t["tenant"], label)] = c.execute(
                """INSERT INTO public.activities (tenant_id, deal_id, user_id, type, title, occurred_at, metadata,
                                                  attachments, created_by)
                   VALUES (%s, %s, %s, 'call', %s, now() - %s::interval, '{"k": 1}', ARRAY[%s]::uuid[], %s)
                   RETURNING id""", [t["tenant"], t["deal"], t["user1"], label, age, t["doc"], t["user1"]]).fetchone()[0]
    originals = {r[0]: r[1] for r in c.execute("SELECT id, to_jsonb(a) FROM public.activities a")}
    status, error = run_like_pg_cron(c, declared(c)["archive_activities"][1])
    assert status in OK, error
    archived = {r[0]: r[1] for r in c.execute("SELECT id, to_jsonb(a) - 'archived_at' FROM public.activities_archive a")}
    remaining = {r[0] for r in c.execute("SELECT id FROM public.activities")}
    old = {ids[(t["tenant"], label)] for t in (a, b) for label in ("two years", "thirteen months")}
    young = {ids[(t["tenant"], label)] for t in (a, b) for label in ("eleven months", "today")}
    assert old <= set(archived) and not old & remaining
    assert young <= remaining and not young & set(archived)
    assert all(archived[i] == originals[i] for i in old), "archived rows differ from the originals"


def test_cleanup_sessions_removes_expired_sessions_of_every_tenant(jobs_db, conn_to):
    url, a, b = jobs_db
    c = conn_to(url)
    for t in (a, b):
        c.execute("""INSERT INTO public.user_sessions (tenant_id, user_id, token_hash, expires_at)
                     VALUES (%s, %s, %s, now() - INTERVAL '1 minute')""", [t["tenant"], t["user1"], uuid.uuid4().hex * 2])
    run_like_pg_cron(c, declared(c)["cleanup_sessions"][1])
    assert c.execute("SELECT count(*) FROM public.user_sessions WHERE expires_at < now()").fetchone()[0] == 0
    assert c.execute("SELECT count(*) FROM public.user_sessions WHERE id IN (%s, %s)",
                     [a["session"], b["session"]]).fetchone()[0] == 2


def test_a_job_run_by_a_non_superuser_dba_still_reaches_every_tenant(jobs_db, conn_to, server):
    """Jobs run as the role that ran dbtool. A DBA who is a member of maplatform_owner is subject to the
    forced policies and sees no tenant row: the document's plain DELETE would silently delete nothing.
    The job calls a SECURITY DEFINER function of maplatform_maintenance instead."""
    url, a, b = jobs_db
    c = conn_to(url)
    role = f"dba_{uuid.uuid4().hex[:8]}"
    with server.admin() as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN IN ROLE maplatform_owner")
    try:
        for t in (a, b):
            c.execute("""INSERT INTO public.user_sessions (tenant_id, user_id, token_hash, expires_at)
                         VALUES (%s, %s, %s, now() - INTERVAL '1 hour')""", [t["tenant"], t["user1"], uuid.uuid4().hex * 2])
        with c.transaction(force_rollback=True):
            c.execute(f"SET LOCAL ROLE {role}")
            plain = c.execute("DELETE FROM public.user_sessions WHERE expires_at < now()").rowcount
        c.execute(f"SET ROLE {role}")
        status, error = run_like_pg_cron(c, declared(c)["cleanup_sessions"][1])
        c.execute("RESET ROLE")
        assert plain == 0 and status in OK, error
        assert c.execute("SELECT count(*) FROM public.user_sessions WHERE expires_at < now()").fetchone()[0] == 0
    finally:
        c.execute("RESET ROLE")
        with server.admin() as admin:
            admin.execute(f"DROP ROLE {role}")


@pytest.mark.slow
def test_pg_cron_itself_runs_every_declared_command_as_the_owner_and_cannot_be_used_to_escalate(
        jobs_db, server, conn_to):
    """pg_cron 1.4 schedules by the minute: copies of every job run at the next minute (up to ~70 s),
    in background workers, as maplatform_owner (LOGIN CONNECTION LIMIT 0), as dbtool schedules them.
    A member of the owner role replaces a function a job calls with ALTER ROLE ... SUPERUSER: the job
    runs it as the owner, which may not, so the member stays what it was (it became a superuser
    when jobs ran as the superuser who ran dbtool)."""
    url = jobs_db[0]
    name = url.rsplit("/", 1)[1]
    cron_conn = conn_to(server.url("postgres"))
    cron._ensure_extension(cron_conn, "postgres")
    app_conn = conn_to(url)
    app_conn.execute("DO $$BEGIN CREATE ROLE cron_attacker LOGIN IN ROLE maplatform_owner; "
                     "EXCEPTION WHEN duplicate_object THEN NULL; END$$")
    with psycopg.connect(url.replace("postgresql://postgres@", "postgresql://cron_attacker@"),
                         autocommit=True) as attacker:
        attacker.execute("""CREATE FUNCTION ops.escalation_probe() RETURNS void LANGUAGE plpgsql
                            SET search_path = pg_catalog AS $$ BEGIN ALTER ROLE cron_attacker SUPERUSER; END $$""")
    commands = dict((job, cmd) for job, (_, cmd) in declared(app_conn).items())
    commands["document_vacuum"] = DOCUMENT_VACUUM
    commands["escalation"] = "SELECT ops.escalation_probe()"
    ids = {job: cron_conn.execute("SELECT cron.schedule_in_database(%s, '* * * * *', %s, %s, 'maplatform_owner')",
                                  [f"probe_{job}@{name}", cmd, name]).fetchone()[0] for job, cmd in commands.items()}
    try:
        deadline = time.monotonic() + 75
        while time.monotonic() < deadline:
            runs = dict(cron_conn.execute("""SELECT DISTINCT ON (jobid) jobid, status FROM cron.job_run_details
                                             WHERE jobid = ANY(%s) AND status IN ('succeeded', 'failed')
                                             ORDER BY jobid, runid""", [list(ids.values())]))
            if len(runs) == len(ids):
                break
            time.sleep(1)
        outcome = {job: runs.get(jid, "did not run") for job, jid in ids.items()}
        messages = dict(cron_conn.execute("SELECT jobid, return_message FROM cron.job_run_details WHERE jobid = ANY(%s)",
                                          [[ids["document_vacuum"], ids["escalation"]]]))
        superuser = app_conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = 'cron_attacker'").fetchone()[0]
    finally:
        for jid in ids.values():
            cron_conn.execute("SELECT cron.unschedule(%s::bigint)", [jid])
        app_conn.execute("DROP FUNCTION IF EXISTS ops.escalation_probe()")
        app_conn.execute("DROP ROLE IF EXISTS cron_attacker")
    assert outcome.pop("document_vacuum") == "failed"
    # In a background worker pg_cron runs the text through SPI ("from a function"); over libpq it is one
    # implicit transaction: either way the document's three VACUUMs fail, the one-statement job does not.
    assert re.search(r"VACUUM cannot (run inside a transaction block|be executed from a function)",
                     messages[ids["document_vacuum"]])
    assert outcome.pop("escalation") == "failed" and superuser is False
    assert "permission denied" in messages[ids["escalation"]] or "must be superuser" in messages[ids["escalation"]]
    assert outcome == {job: "succeeded" for job in outcome}


def test_dbtool_schedules_every_job_as_the_owner_of_the_jobs_table_never_as_itself(jobs_db, server, conn_to):
    url = jobs_db[0]
    name = url.rsplit("/", 1)[1]
    result = cron.sync(url, conn_to(url))
    assert result.run_as == "maplatform_owner" and result.scheduled
    users = {r[0] for r in conn_to(server.url("postgres")).execute(
        "SELECT username FROM cron.job WHERE database = %s", [name])}
    assert users == {"maplatform_owner"}


@pytest.mark.parametrize("command", [
    "DELETE FROM public.deals",
    "SELECT ops.cleanup_sessions(); ALTER ROLE maplatform_app SUPERUSER",
    "SELECT ops.cleanup_sessions()\n",
    "SELECT pg_catalog.set_config('x', 'y', false)",
])
def test_a_job_command_that_is_not_a_plain_call_vacuum_or_analyze_is_refused(migrated_db, conn_to, command):
    """Jobs run as whoever runs dbtool, often a superuser: ops.cron_jobs must not be a way to run
    arbitrary SQL as that user. The table refuses such a row, and so does the sync when the
    constraint is missing (a hand-made table, a doctored dump)."""
    c = conn_to(migrated_db)
    with pytest.raises(psycopg.errors.CheckViolation):
        c.execute("INSERT INTO ops.cron_jobs (jobname, schedule, command) VALUES ('evil', '* * * * *', %s)", [command])
    c.execute("ALTER TABLE ops.cron_jobs DROP CONSTRAINT cron_jobs_command_shape")
    c.execute("INSERT INTO ops.cron_jobs (jobname, schedule, command) VALUES ('evil', '* * * * *', %s)", [command])
    with pytest.raises(DbtoolError, match="cron job 'evil' in ops.cron_jobs has a command dbtool will not schedule"):
        cron.sync(migrated_db, c)
