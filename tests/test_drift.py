"""`dbtool drift`: each change a DBA can make by hand is reported exactly, by kind and name, and
nothing else; an untouched migrated database reports nothing.

The expected side is a snapshot file of an untouched clone of the session's migrated template
(what `make snapshot` commits; test_snapshot.py proves the committed file equals it), so these
tests do not depend on the committed file being current while the schema is being written.
Objects the issue names that the schema does not define yet are created as stand-ins, the same
way in the expected database and in the live one (see `stand_ins`); once the schema has them, the
real objects are used.
"""

from __future__ import annotations

import json
import os
import warnings

import psycopg
import pytest
from typer.testing import CliRunner

from dbtool import cron
from dbtool.cli import app
from dbtool.commands import drift as drift_cmd
from dbtool.commands import snapshot as snap_cmd

runner = CliRunner()
USED_STAND_INS: set[str] = set()


# ----- the objects the tests change ---------------------------------------------------------------

def stand_ins(conn: psycopg.Connection) -> None:
    """Create what the tests need and the schema does not have yet; identical in every database."""
    if not _exists(conn, "SELECT to_regclass('public.deals')"):
        USED_STAND_INS.add("table public.deals")
        conn.execute("""
            CREATE TABLE public.deals (id uuid PRIMARY KEY DEFAULT public.gen_random_uuid(), tenant_id uuid NOT NULL,
                                       owner_id uuid, currency varchar(3) DEFAULT 'GBP', archived_at timestamptz);
            CREATE INDEX idx_deals_owner ON public.deals (owner_id) WHERE archived_at IS NULL;
            ALTER TABLE public.deals ENABLE ROW LEVEL SECURITY;
            ALTER TABLE public.deals FORCE ROW LEVEL SECURITY;
            GRANT SELECT, INSERT, UPDATE, DELETE ON public.deals TO maplatform_app;""")
    if not _exists(conn, "SELECT 1 FROM pg_policy WHERE polrelid = 'public.deals'::regclass AND polqual IS NOT NULL"):
        USED_STAND_INS.add("policy on public.deals")
        conn.execute("CREATE POLICY deals_select ON public.deals FOR SELECT TO maplatform_app "
                     "USING (tenant_id = nullif(current_setting('app.current_tenant', true), '')::uuid)")
    if not _exists(conn, "SELECT 1 FROM pg_proc WHERE proname = 'set_tenant_context'"):
        USED_STAND_INS.add("function set_tenant_context")
        conn.execute("""CREATE FUNCTION public.set_tenant_context(p_tenant uuid) RETURNS void LANGUAGE plpgsql
                        SET search_path = pg_catalog AS $$
                        BEGIN PERFORM set_config('app.current_tenant', p_tenant::text, true); END $$""")
    if not _exists(conn, "SELECT to_regclass('ops.cron_jobs')"):
        USED_STAND_INS.add("table ops.cron_jobs")
        conn.execute("CREATE SCHEMA IF NOT EXISTS ops; CREATE TABLE ops.cron_jobs (jobname text PRIMARY KEY, "
                     "schedule text NOT NULL, command text NOT NULL, active boolean NOT NULL DEFAULT true)")
    for job, schedule, command in [
            ("refresh_pipeline_analytics", "*/15 * * * *", "REFRESH MATERIALIZED VIEW CONCURRENTLY public.pipeline_analytics"),
            ("retention_activity_timeline", "30 3 * * *",
             "SELECT public.drop_chunks('public.activity_timeline', older_than => interval '1 year')"),
            ("refresh_daily_activity_summary", "*/30 * * * *", "REFRESH MATERIALIZED VIEW public.daily_activity_summary")]:
        if not _declared_job(conn, job, command):
            USED_STAND_INS.add(f"cron job {job}")
            conn.execute("INSERT INTO ops.cron_jobs (jobname, schedule, command) VALUES (%s, %s, %s)",
                         [job, schedule, command])


def _exists(conn, query: str) -> bool:
    """The query returns a row whose first value is not NULL."""
    row = conn.execute(query).fetchone()
    return row is not None and row[0] is not None


def _declared_job(conn, job: str, command: str) -> str | None:
    """The declared job `job`, or the one doing the same thing under another name (retention and
    refresh on the Apache edition are pg_cron jobs; their names are the schema's choice)."""
    if job == "refresh_pipeline_analytics":
        row = conn.execute("SELECT jobname FROM ops.cron_jobs WHERE jobname = %s", [job]).fetchone()
    elif job.startswith("retention"):
        row = conn.execute("SELECT jobname FROM ops.cron_jobs WHERE jobname ILIKE '%%retention%%' "
                           "OR command ILIKE '%%drop_chunks%%' ORDER BY jobname LIMIT 1").fetchone()
    else:
        row = conn.execute("SELECT jobname FROM ops.cron_jobs WHERE command ILIKE '%%daily_activity_summary%%' "
                           "ORDER BY jobname LIMIT 1").fetchone()
    return row[0] if row else None


def prepare(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        stand_ins(conn)
        cron.sync(url, conn)
    if USED_STAND_INS:  # shown in pytest's warnings summary, so nobody mistakes them for the schema
        warnings.warn("test_drift created stand-ins for what the schema lacks: " + ", ".join(sorted(USED_STAND_INS)))
    return url


def the_index(conn) -> str:
    row = conn.execute("""SELECT i.indexrelid::regclass::text FROM pg_index AS i
                          WHERE i.indrelid = 'public.deals'::regclass AND NOT i.indisprimary AND NOT i.indisunique
                          ORDER BY i.indexrelid::regclass::text <> 'idx_deals_owner', 1 LIMIT 1""").fetchone()
    return row[0]


def the_policy(conn) -> str:
    return conn.execute("SELECT polname FROM pg_policy WHERE polrelid = 'public.deals'::regclass "
                        "AND polqual IS NOT NULL ORDER BY polname LIMIT 1").fetchone()[0]


def the_function(conn) -> tuple[str, str]:
    """Its snapshot name and its CREATE OR REPLACE text."""
    return conn.execute("""SELECT n.nspname || '.' || p.proname || '(' || oidvectortypes(p.proargtypes) || ')',
                                  pg_get_functiondef(p.oid)
                           FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
                           WHERE p.proname = 'set_tenant_context' ORDER BY 1 LIMIT 1""").fetchone()


# ----- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def head_file(server, tmp_path_factory):
    """The snapshot of an untouched clone of the migrated template, with its cron jobs scheduled."""
    name = f"drift_head_{os.getpid()}"
    url = server.create_db(name, server.template)
    try:
        path = tmp_path_factory.mktemp("drift") / "snapshot.yaml"
        snap_cmd.write(snap_cmd.take(prepare(url)), path)
        yield path
    finally:
        server.drop_db(name)


@pytest.fixture
def live(migrated_db, conn_to):
    """(url, connection) of a migrated database with its cron jobs scheduled."""
    return prepare(migrated_db), conn_to(migrated_db)


@pytest.fixture
def cron_conn(server, conn_to):
    return conn_to(server.url("postgres"))


def reported(url, project, head_file) -> list[tuple[str, str, str]]:
    return [(c.action, c.kind, c.name) for c in drift_cmd.drift(url, project, against=head_file).changes]


def only_change(url, project, head_file):
    changes = drift_cmd.drift(url, project, against=head_file).changes
    assert len(changes) == 1, [(c.action, c.kind, c.name) for c in changes]
    return changes[0]


def dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


# ----- each change by hand ------------------------------------------------------------------------

def test_an_untouched_migrated_database_has_no_drift(live, project, head_file):
    url, _ = live
    assert reported(url, project, head_file) == []


def test_dropping_an_index_is_reported_as_that_index_removed(live, project, head_file):
    url, conn = live
    index = the_index(conn)
    conn.execute(f"DROP INDEX public.{index}")
    assert reported(url, project, head_file) == [("removed", "index", f"public.{index}")]


def test_adding_a_column_is_reported_as_that_column_added(live, project, head_file):
    url, conn = live
    conn.execute("ALTER TABLE public.deals ADD COLUMN region text")
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("added", "column", "public.deals.region")
    assert change.after["type"] == "text"


def test_changing_a_default_is_reported_with_the_old_and_new_default(live, project, head_file):
    url, conn = live
    conn.execute("ALTER TABLE public.deals ALTER COLUMN currency SET DEFAULT 'EUR'")
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "column", "public.deals.currency")
    assert list(change.before) == ["default"] and "'EUR'" in change.after["default"]


def test_disabling_rls_on_one_table_is_reported_on_that_table(live, project, head_file):
    url, conn = live
    conn.execute("ALTER TABLE public.deals DISABLE ROW LEVEL SECURITY")
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "table", "public.deals")
    assert change.before == {"rls_enabled": True} and change.after == {"rls_enabled": False}


def test_altering_a_policys_using_is_reported_on_that_policy(live, project, head_file):
    url, conn = live
    policy = the_policy(conn)
    conn.execute(f"ALTER POLICY {policy} ON public.deals USING (true)")
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "policy", f"public.deals.{policy}")
    assert list(change.after) == ["using"] and change.after["using"] == "true"


def test_replacing_a_function_body_is_reported_on_that_function(live, project, head_file):
    url, conn = live
    name, definition = the_function(conn)
    assert "$function$" in definition
    conn.execute(definition.replace("$function$", "$function$\n-- changed by hand\n", 1))
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "function", name)
    assert list(change.after) == ["body"] and "-- changed by hand" in change.after["body"]


def test_granting_an_extra_privilege_to_the_application_role_is_reported(live, project, head_file):
    url, conn = live
    conn.execute("GRANT TRUNCATE ON public.deals TO maplatform_app")
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "table", "public.deals")
    assert list(change.after) == ["privileges"]
    assert "TRUNCATE" in change.after["privileges"]["maplatform_app"]
    assert "TRUNCATE" not in (change.before["privileges"] or {}).get("maplatform_app", [])


def test_changing_a_cron_jobs_schedule_is_reported_on_that_job(live, project, head_file, cron_conn):
    url, _ = live
    cron_conn.execute("SELECT cron.alter_job(jobid, schedule => '*/5 * * * *') FROM cron.job WHERE jobname = %s",
                      [f"refresh_pipeline_analytics@{dbname(url)}"])
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "cron_job", "refresh_pipeline_analytics")
    assert change.after == {"schedule": "*/5 * * * *"}


def test_unscheduling_a_cron_job_is_reported_as_that_job_removed(live, project, head_file, cron_conn):
    url, _ = live
    cron_conn.execute("SELECT cron.unschedule(%s)", [f"refresh_pipeline_analytics@{dbname(url)}"])
    assert reported(url, project, head_file) == [("removed", "cron_job", "refresh_pipeline_analytics")]


def test_an_invalid_index_from_a_failed_concurrent_build_is_drift(live, project, head_file):
    url, conn = live
    assert conn.execute("SELECT count(*) FROM ops.cron_jobs WHERE active").fetchone()[0] >= 2
    with pytest.raises(psycopg.errors.UniqueViolation):  # every declared job is active: duplicates
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY cron_jobs_active_key ON ops.cron_jobs (active)")
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("added", "index", "ops.cron_jobs_active_key")
    assert change.after["valid"] is False


def _timescale_license(conn) -> str:
    return conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0]


def test_apache_edition_pausing_the_retention_job_is_reported(live, project, head_file, cron_conn):
    url, conn = live
    if _timescale_license(conn) == "timescale":
        pytest.skip("community edition: retention is a TimescaleDB policy (test_community_edition_...)")
    job = _declared_job(conn, "retention", "")
    cron_conn.execute("SELECT cron.alter_job(jobid, active => false) FROM cron.job WHERE jobname = %s",
                      [f"{job}@{dbname(url)}"])
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "cron_job", job)
    assert (change.before, change.after) == ({"active": True}, {"active": False})


def test_apache_edition_changing_the_refresh_job_is_reported(live, project, head_file, cron_conn):
    url, conn = live
    if _timescale_license(conn) == "timescale":
        pytest.skip("community edition: daily_activity_summary is refreshed by a TimescaleDB policy")
    job = _declared_job(conn, "refresh_daily", "")
    cron_conn.execute("SELECT cron.alter_job(jobid, schedule => '17 * * * *') FROM cron.job WHERE jobname = %s",
                      [f"{job}@{dbname(url)}"])
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "cron_job", job)
    assert change.after == {"schedule": "17 * * * *"}


def test_community_edition_changing_the_retention_and_refresh_policies_is_reported(live, project, head_file):
    url, conn = live
    if _timescale_license(conn) != "timescale":
        pytest.skip(f"TimescaleDB here is the {_timescale_license(conn)!r} edition: retention and refresh "
                    "policies exist only in the community ('timescale') edition")
    conn.execute("""SELECT public.alter_job(job_id, schedule_interval => interval '2 days')
                    FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'""")
    conn.execute("""SELECT public.alter_job(job_id, config => jsonb_set(config, '{end_offset}', '"2 hours"'))
                    FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'""")
    got = {(c.action, c.kind, c.name): c for c in drift_cmd.drift(url, project, against=head_file).changes}
    assert set(got) == {("changed", "timescale_job", "policy_retention on public.activity_timeline"),
                        ("changed", "timescale_job",
                         "policy_refresh_continuous_aggregate on public.daily_activity_summary")}
    assert got[("changed", "timescale_job", "policy_retention on public.activity_timeline")].after == {
        "schedule_interval": "2 days"}


# ----- against migrations, versions, the command line -------------------------------------------

def test_against_migrations_an_untouched_database_has_no_drift_and_the_scratch_is_dropped(
        migrated_db, project, server):
    url = migrated_db
    with psycopg.connect(url, autocommit=True) as conn:
        cron.sync(url, conn)
    assert drift_cmd.drift(url, project, against_migrations=True).changes == []
    with server.admin() as c:
        assert not c.execute("SELECT 1 FROM pg_database WHERE datname LIKE 'dbtool_scratch_%'").fetchall()
        assert not c.execute("SELECT 1 FROM cron.job WHERE database LIKE 'dbtool_scratch_%'").fetchall()


def test_against_migrations_reports_a_change_made_by_hand(migrated_db, project, conn_to):
    conn = conn_to(migrated_db)
    cron.sync(migrated_db, conn)
    conn.execute("CREATE SCHEMA reporting")
    rep = drift_cmd.drift(migrated_db, project, against_migrations=True)
    assert [(c.action, c.kind, c.name) for c in rep.changes] == [("added", "schema", "reporting")]


TWO_MIGRATIONS = [("0001_create_a", "CREATE TABLE public.a (id integer PRIMARY KEY);", "DROP TABLE public.a;"),
                  ("0002_add_a_note", "ALTER TABLE public.a ADD COLUMN note text;",
                   "ALTER TABLE public.a DROP COLUMN note;")]


@pytest.fixture
def behind(tmp_project, empty_db):
    """A two-migration project with a snapshot of head, and a database at its first migration."""
    from dbtool.commands.migrate import migrate
    for mid, fwd, rb in TWO_MIGRATIONS:
        tmp_project.pair(mid, f"-- Why: test.\n{fwd}\n", f"{rb}\n")
    proj = tmp_project.load()
    snap_cmd.write(snap_cmd.from_migrations(empty_db, proj), tmp_project.path / "schema" / "snapshot.yaml")
    migrate(empty_db, proj, to="0001_create_a")
    return empty_db, proj


def test_a_database_behind_head_is_not_compared_with_the_head_snapshot(behind):
    url, proj = behind
    res = runner.invoke(app, ["drift", "-d", url, "--project", str(proj.root)])
    assert res.exit_code == 2
    assert "is at 0001_create_a, but snapshot.yaml is the snapshot of 0002_add_a_note" in res.stderr
    assert "--against-migrations" in res.stderr


def test_a_database_behind_head_compares_with_migrations_at_its_own_version(behind):
    url, proj = behind
    res = runner.invoke(app, ["drift", "-d", url, "--project", str(proj.root), "--against-migrations"])
    assert res.exit_code == 0, res.output
    assert "no drift from migrations/ at 0001_create_a" in res.stdout


def test_drift_command_exit_codes_text_and_json(live, project, head_file):
    url, conn = live
    res = runner.invoke(app, ["drift", "-d", url, "--against", str(head_file), "--project", str(project.root)])
    assert res.exit_code == 0 and "no drift" in res.stdout
    conn.execute("ALTER TABLE public.deals ALTER COLUMN currency SET DEFAULT 'EUR'")
    res = runner.invoke(app, ["drift", "-d", url, "--against", str(head_file), "--project", str(project.root)])
    assert res.exit_code == 1
    lines = res.stdout.splitlines()
    assert lines[0] == "changed  column  public.deals.currency"
    assert lines[1].strip() == "default:" and lines[2].strip().startswith("- 'GBP'")
    assert lines[3].strip().startswith("+ 'EUR'")
    res = runner.invoke(app, ["drift", "-d", url, "--against", str(head_file), "--json", "--project", str(project.root)])
    doc = json.loads(res.stdout)
    assert res.exit_code == 1 and doc["drift"] is True
    assert doc["changes"] == [{"action": "changed", "kind": "column", "name": "public.deals.currency",
                               "before": {"default": "'GBP'::character varying"},
                               "after": {"default": "'EUR'::character varying"}}]


def test_drift_usage_errors_are_one_line_with_a_hint(migrated_db, tmp_path, project):
    both = runner.invoke(app, ["drift", "-d", migrated_db, "--against", "x", "--against-migrations"])
    assert both.exit_code == 2 and "not both" in both.stderr
    missing = runner.invoke(app, ["drift", "-d", migrated_db, "--against", str(tmp_path / "nope.yaml"),
                                  "--project", str(project.root)])
    assert missing.exit_code == 2 and "no snapshot file" in missing.stderr and "make snapshot" in missing.stderr
    (tmp_path / "bad.yaml").write_text("- just\n- a list\n")
    bad = runner.invoke(app, ["drift", "-d", migrated_db, "--against", str(tmp_path / "bad.yaml"),
                              "--project", str(project.root)])
    assert bad.exit_code == 2 and "is not a dbtool snapshot" in bad.stderr
    assert "Traceback" not in both.output + missing.output + bad.output

