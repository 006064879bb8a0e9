"""`dbtool drift`: each change a DBA can make by hand is reported exactly, by kind and name, and
nothing else; an untouched migrated database reports nothing.

The expected side is a snapshot file of an untouched clone of the session's migrated template
(what `make snapshot` commits for the server's TimescaleDB edition; test_snapshot.py proves the
committed file equals it), so these tests do not depend on the committed file being current while
the schema is being written. They use the schema's real objects on either edition: the Apache
edition's retention and summary refresh are pg_cron jobs, the community edition's are TimescaleDB
policies with compression and a continuous aggregate (0018).
"""

from __future__ import annotations

import json
import os

import psycopg
import pytest
from pytest_postgresql import factories
from typer.testing import CliRunner

from dbtool import catalog, cluster, cron
from dbtool.cli import app
from dbtool.commands import drift as drift_cmd
from dbtool import snapshots as snap_cmd
from dbtool.commands.migrate import migrate
from scratch_support import databases_created_on

runner = CliRunner()
JOB_ROLE = "maplatform_owner"  # owns ops.cron_jobs: every pg_cron job runs as it (dbtool/cron.py)
# The Apache edition's pg_cron jobs for what the community edition does with TimescaleDB policies.
APACHE_RETENTION_JOB, APACHE_REFRESH_JOB = "activity_timeline_retention", "refresh_daily_activity_summary"
HYPERTABLE, SUMMARY = "timeline.activity_timeline", "timeline.daily_activity_summary"
RETENTION = f"policy_retention on {HYPERTABLE}"
COMPRESSION = f"policy_compression on {HYPERTABLE}"
REFRESH = f"policy_refresh_continuous_aggregate on {SUMMARY}"


def prepare(url: str) -> str:
    """Schedule the declared cron jobs, as `dbtool migrate` does (the template is migrated without)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cron.sync(url, conn)
    return url


def the_index(conn) -> str:
    row = conn.execute("""SELECT i.indexrelid::regclass::text FROM pg_index AS i
                          WHERE i.indrelid = 'public.deals'::regclass AND NOT i.indisprimary AND NOT i.indisunique
                          ORDER BY i.indexrelid::regclass::text <> 'idx_deals_owner', 1 LIMIT 1""").fetchone()
    return row[0]


def the_policy(conn) -> str:
    return conn.execute("SELECT polname FROM pg_policy WHERE polrelid = 'public.deals'::regclass "
                        "AND polqual IS NOT NULL ORDER BY polname LIMIT 1").fetchone()[0]


def function_definition(conn, signature: str) -> str:
    """The CREATE OR REPLACE text of a function."""
    return conn.execute("SELECT pg_get_functiondef(%s::regprocedure)", [signature]).fetchone()[0]


def alter_cron_job(cron_conn, url: str, job: str, *, schedule: str | None = None, active: bool | None = None) -> None:
    """cron.alter_job as a superuser in the cron database. pg_cron would make the job its caller's
    (cron.enable_superuser_jobs is off, so it refuses) unless the user is given: the job's own."""
    cron_conn.execute("""SELECT cron.alter_job(jobid, schedule => %s, active => %s, username => username)
                         FROM cron.job WHERE jobname = %s""", [schedule, active, f"{job}@{dbname(url)}"])


def edition(conn) -> str | None:
    return snap_cmd.edition(conn)


def community_only(conn) -> None:
    if edition(conn) != snap_cmd.COMMUNITY:
        pytest.skip(f"TimescaleDB here is the {edition(conn)!r} edition: compression, its policies and continuous "
                    "aggregates exist only in the community ('timescale') edition; run with PG_BINDIR set to one")


def apache_only(conn, why: str) -> None:
    if edition(conn) == snap_cmd.COMMUNITY:
        pytest.skip(f"community edition: {why}")


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
    name = "public.set_tenant_context(text)"  # takes a signed token since 0017
    definition = function_definition(conn, name)
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
    alter_cron_job(cron_conn, url, "refresh_pipeline_analytics", schedule="*/5 * * * *")
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "cron_job", "refresh_pipeline_analytics")
    assert change.after == {"schedule": "*/5 * * * *"}


def test_unscheduling_a_cron_job_is_reported_as_that_job_removed(live, project, head_file, cron_conn):
    url, _ = live
    cron_conn.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = %s",  # by name: only the
                      [f"refresh_pipeline_analytics@{dbname(url)}"])  # caller's own jobs are found
    assert reported(url, project, head_file) == [("removed", "cron_job", "refresh_pipeline_analytics")]


def test_rescheduling_a_cron_job_as_a_superuser_is_reported_on_that_job(live, project, head_file, cron_conn):
    url, _ = live
    superuser = cron_conn.execute("SELECT current_user").fetchone()[0]
    # What cron.alter_job(..., username => <superuser>) does where cron.enable_superuser_jobs is on
    # (pg_cron's default; the test cluster has it off, so the row is changed directly).
    cron_conn.execute("UPDATE cron.job SET username = current_user WHERE jobname = %s",
                      [f"refresh_pipeline_analytics@{dbname(url)}"])
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "cron_job", "refresh_pipeline_analytics")
    assert (change.before, change.after) == ({"username": JOB_ROLE}, {"username": superuser})


def test_weakening_the_timeline_view_is_reported_on_that_view(live, project, head_file):
    url, conn = live
    conn.execute("ALTER VIEW public.activity_timeline SET (security_barrier = false)")
    conn.execute("ALTER VIEW public.activity_timeline RESET (check_option)")
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "view", "public.activity_timeline")
    assert (change.before, change.after) == ({"options": ["check_option=cascaded", "security_barrier=true"]},
                                             {"options": ["security_barrier=false"]})


def test_an_invalid_index_from_a_failed_concurrent_build_is_drift(live, project, head_file):
    url, conn = live
    assert conn.execute("SELECT count(*) FROM ops.cron_jobs WHERE active").fetchone()[0] >= 2
    with pytest.raises(psycopg.errors.UniqueViolation):  # every declared job is active: duplicates
        conn.execute("CREATE UNIQUE INDEX CONCURRENTLY cron_jobs_active_key ON ops.cron_jobs (active)")
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("added", "index", "ops.cron_jobs_active_key")
    assert change.after["valid"] is False


def test_apache_edition_pausing_the_retention_job_is_reported(live, project, head_file, cron_conn):
    url, conn = live
    apache_only(conn, "retention is a TimescaleDB policy (test_community_edition_...)")
    alter_cron_job(cron_conn, url, APACHE_RETENTION_JOB, active=False)
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "cron_job", APACHE_RETENTION_JOB)
    assert (change.before, change.after) == ({"active": True}, {"active": False})


def test_apache_edition_changing_the_refresh_job_is_reported(live, project, head_file, cron_conn):
    url, conn = live
    apache_only(conn, "daily_activity_summary is refreshed by a TimescaleDB policy")
    alter_cron_job(cron_conn, url, APACHE_REFRESH_JOB, schedule="17 * * * *")
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "cron_job", APACHE_REFRESH_JOB)
    assert change.after == {"schedule": "17 * * * *"}


def test_community_edition_changing_the_retention_and_refresh_policies_is_reported(live, project, head_file):
    url, conn = live
    community_only(conn)
    head = snap_cmd.read_file(head_file).data
    # What 0018 creates: 1-year retention on the hypertable, an hourly refresh of the whole history
    # up to an hour ago; no pg_cron job does either.
    assert head["timescale_job"][RETENTION]["config"] == {"drop_after": "1 year"}
    assert (head["timescale_job"][REFRESH]["config"], head["timescale_job"][REFRESH]["schedule_interval"]) == (
        {"start_offset": None, "end_offset": "01:00:00"}, "01:00:00")
    assert not {APACHE_RETENTION_JOB, APACHE_REFRESH_JOB} & set(head["cron_job"])
    conn.execute("""SELECT public.alter_job(job_id, schedule_interval => interval '2 days',
                                            config => jsonb_set(config, '{drop_after}', '"2 years"'))
                    FROM timescaledb_information.jobs
                    WHERE proc_name = 'policy_retention' AND hypertable_schema || '.' || hypertable_name = %s""",
                 [HYPERTABLE])
    conn.execute("""SELECT public.alter_job(j.job_id, config => jsonb_set(j.config, '{start_offset}', '"30 days"'))
                    FROM timescaledb_information.jobs AS j
                    JOIN timescaledb_information.continuous_aggregates AS ca
                      ON ca.materialization_hypertable_name = j.hypertable_name
                    WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
                      AND ca.view_schema || '.' || ca.view_name = %s""", [SUMMARY])
    got = {(c.action, c.kind, c.name): c for c in drift_cmd.drift(url, project, against=head_file).changes}
    assert set(got) == {("changed", "timescale_job", RETENTION), ("changed", "timescale_job", REFRESH)}
    retention = got[("changed", "timescale_job", RETENTION)]
    assert (retention.before, retention.after) == (
        {"config": {"drop_after": "1 year"}, "schedule_interval": "1 day"},
        {"config": {"drop_after": "2 years"}, "schedule_interval": "2 days"})
    refresh = got[("changed", "timescale_job", REFRESH)]
    assert refresh.after == {"config": {"start_offset": "30 days", "end_offset": "01:00:00"}}


def test_community_edition_changing_compression_is_reported(live, project, head_file):
    url, conn = live
    community_only(conn)
    head = snap_cmd.read_file(head_file).data
    assert {k: head["hypertable"][HYPERTABLE][k] for k in ("compression_enabled", "compress_segmentby",
                                                              "compress_orderby", "chunk_schema")} == {
        "compression_enabled": True, "compress_segmentby": "tenant_id", "compress_orderby": '"time" DESC',
        "chunk_schema": "timeline_chunks"}
    assert head["timescale_job"][COMPRESSION]["config"] == {"compress_after": "7 days"}
    conn.execute(f"ALTER TABLE {HYPERTABLE} SET (timescaledb.compress_segmentby = 'tenant_id, deal_id')")
    conn.execute("SELECT public.remove_compression_policy(%s)", [HYPERTABLE])
    got = {(c.action, c.kind, c.name): c for c in drift_cmd.drift(url, project, against=head_file).changes}
    assert set(got) == {("changed", "hypertable", HYPERTABLE), ("removed", "timescale_job", COMPRESSION)}
    assert got[("changed", "hypertable", HYPERTABLE)].after == {"compress_segmentby": "tenant_id,deal_id"}


def test_community_edition_a_real_time_continuous_aggregate_is_reported(live, project, head_file):
    url, conn = live
    community_only(conn)
    conn.execute(f"ALTER MATERIALIZED VIEW {SUMMARY} SET (timescaledb.materialized_only = false)")
    change = only_change(url, project, head_file)
    assert (change.action, change.kind, change.name) == ("changed", "continuous_aggregate", SUMMARY)
    assert (change.before, change.after) == ({"materialized_only": True}, {"materialized_only": False})


# ----- what migra's fixtures found: collations, inherited columns ---------------------------------

def test_a_collation_in_one_database_only_or_with_another_locale_or_provider_is_reported(db_factory, conn_to):
    expected, live_db = db_factory(), db_factory()
    conn_to(expected).execute("""
        CREATE COLLATION public.german (provider = icu, locale = 'de-DE');
        CREATE COLLATION public.bytes (provider = libc, locale = 'C');
        CREATE COLLATION public.dropped_later (provider = icu, locale = 'fr-FR');""")
    conn_to(live_db).execute("""
        CREATE COLLATION public.german (provider = icu, locale = 'de-CH');
        CREATE COLLATION public.bytes (provider = icu, locale = 'und');
        CREATE COLLATION public.added_by_hand (provider = icu, locale = 'und', deterministic = false);""")
    changes = {(c.action, c.kind, c.name): c
               for c in catalog.diff(snap_cmd.take(expected).data, snap_cmd.take(live_db).data)}
    assert set(changes) == {("changed", "collation", "public.german"), ("changed", "collation", "public.bytes"),
                            ("removed", "collation", "public.dropped_later"),
                            ("added", "collation", "public.added_by_hand")}
    german = changes[("changed", "collation", "public.german")]
    assert (german.before, german.after) == ({"locale": "de-DE"}, {"locale": "de-CH"})
    bytes_ = changes[("changed", "collation", "public.bytes")]
    assert (bytes_.before["provider"], bytes_.after["provider"]) == ("libc", "icu")
    assert (bytes_.before["lc_collate"], bytes_.after["locale"]) == ("C", "und")
    assert changes[("added", "collation", "public.added_by_hand")].after["deterministic"] is False


def test_a_column_inherited_in_one_database_and_also_declared_locally_in_the_other_is_reported(db_factory, conn_to):
    expected, live_db = db_factory(), db_factory()
    conn_to(expected).execute("CREATE TABLE public.p (x integer); CREATE TABLE public.c () INHERITS (public.p)")
    conn_to(live_db).execute("CREATE TABLE public.p (x integer); CREATE TABLE public.c (x integer) INHERITS (public.p)")
    before, after = snap_cmd.take(expected).data, snap_cmd.take(live_db).data
    assert before["column"]["public.c.x"] == {"position": 1, "type": "integer", "not_null": False,
                                              "inherited": 1, "local": False}
    assert "inherited" not in before["column"]["public.p.x"]  # a table's own column: nothing to say
    changes = catalog.diff(before, after)
    assert [(c.action, c.kind, c.name, c.before, c.after) for c in changes] == [
        ("changed", "column", "public.c.x", {"local": False}, {"local": True})]


# ----- against migrations, versions, the command line -------------------------------------------

def test_against_migrations_builds_in_a_local_cluster_and_creates_no_database_on_the_server(
        migrated_db, project, server):
    url = prepare(migrated_db)
    with databases_created_on(server.url()) as created:  # as a DBA runs it: the database from DATABASE_URL
        res = runner.invoke(app, ["drift", "--against-migrations", "--project", str(project.root)],
                            env={"DATABASE_URL": url})
    assert res.exit_code == 0, res.output
    assert created == set()
    version = snap_cmd.migration_ids(project)[-1]  # the clone is at head
    assert res.stdout.strip() == (f"{dbname(url)}: no drift from migrations/ at {version} "
                                  "(built in a temporary local cluster)")


def test_against_migrations_with_server_url_builds_on_that_server_and_drops_the_scratch_database(
        migrated_db, project, server):
    url = prepare(migrated_db)
    with databases_created_on(server.url()) as created:
        rep = drift_cmd.drift(url, project, against_migrations=True, server_url=server.url())
    assert rep.changes == [] and rep.against.endswith(f"(built in a scratch database on the server of "
                                                      f"{server.user}@{server.host}:{server.port})")
    assert len(created) == 1 and next(iter(created)).startswith("dbtool_scratch_")  # and gone again
    with server.admin() as c:
        assert not c.execute("SELECT 1 FROM cron.job WHERE database LIKE 'dbtool_scratch_%'").fetchall()


def test_against_migrations_reports_a_change_made_by_hand(migrated_db, project, conn_to, server):
    conn = conn_to(migrated_db)
    cron.sync(migrated_db, conn)
    conn.execute("CREATE SCHEMA reporting")
    rep = drift_cmd.drift(migrated_db, project, against_migrations=True, server_url=server.url())
    assert [(c.action, c.kind, c.name) for c in rep.changes] == [("added", "schema", "reporting")]


TWO_MIGRATIONS = [("0001_create_a", "CREATE TABLE public.a (id integer PRIMARY KEY);", "DROP TABLE public.a;"),
                  ("0002_add_a_note", "ALTER TABLE public.a ADD COLUMN note text;",
                   "ALTER TABLE public.a DROP COLUMN note;")]


@pytest.fixture
def behind(tmp_project, empty_db, server):
    """A two-migration project with a snapshot of head, and a database at its first migration."""
    for mid, fwd, rb in TWO_MIGRATIONS:
        tmp_project.pair(mid, f"-- Why: test.\n{fwd}\n", f"{rb}\n")
    proj = tmp_project.load()
    built = snap_cmd.from_migrations(server.url(), proj)
    snap_cmd.write(built, snap_cmd.snapshot_file(proj, built.edition))  # the committed file of this edition
    migrate(empty_db, proj, to="0001_create_a")
    return empty_db, proj


def test_a_database_behind_head_is_not_compared_with_the_head_snapshot(behind):
    url, proj = behind
    res = runner.invoke(app, ["drift", "-d", url, "--project", str(proj.root)])
    said = " ".join(res.stderr.split())
    assert res.exit_code == 2
    assert "is at 0001_create_a, but snapshot.yaml is the snapshot of 0002_add_a_note, a newer version" in said
    assert "`dbtool migrate` brings it to head" in said and "--against-migrations" in said


def test_a_database_behind_head_compares_with_migrations_at_its_own_version(behind):
    url, proj = behind
    res = runner.invoke(app, ["drift", "-d", url, "--project", str(proj.root), "--against-migrations"])
    assert res.exit_code == 0, res.output
    assert "no drift from migrations/ at 0001_create_a (built in a temporary local cluster)" in res.stdout


def test_a_committed_snapshot_older_than_the_database_is_out_of_date_not_the_database(behind, tmp_project, server):
    """`dbtool new x; dbtool migrate; dbtool drift` before `make snapshot`: the database is at head,
    the committed file is not; the fix is the file, and migrate would change nothing."""
    url, proj = behind
    built = snap_cmd.from_migrations(server.url(), proj, to="0001_create_a")
    committed = snap_cmd.snapshot_file(proj, built.edition)
    snap_cmd.write(built, committed)  # the committed snapshot of 0001; then 0002 was added and applied
    migrate(url, proj)
    res = runner.invoke(app, ["drift", "-d", url, "--project", str(proj.root)])
    said = " ".join(res.stderr.split())
    assert res.exit_code == 2, res.output
    assert (f"error: {committed.relative_to(proj.root)} is out of date: it is the snapshot of 0001_create_a, "
            f"but {dbname(url)} is at 0002_add_a_note") in said
    assert f"refresh the committed snapshot: {snap_cmd.make_command(built.edition)}" in said
    assert f"dbtool snapshot --from-migrations --out {committed.relative_to(proj.root)}" in said
    assert "--against-migrations" in said and "dbtool migrate" not in said
    tmp_project.pair("0003_add_a_size", "-- Why: test.\nALTER TABLE public.a ADD COLUMN size int;\n",
                     "ALTER TABLE public.a DROP COLUMN size;\n")  # and one more, not applied yet
    res = runner.invoke(app, ["drift", "-d", url, "--project", str(proj.root)])
    said = " ".join(res.stderr.split())
    assert res.exit_code == 2 and "is at 0002_add_a_note and migrations/ end at 0003_add_a_size" in said
    snap_cmd.write(snap_cmd.from_migrations(server.url(), proj, to="0002_add_a_note"), committed)  # refreshed
    res = runner.invoke(app, ["drift", "-d", url, "--project", str(proj.root)])
    assert res.exit_code == 0 and f"no drift from {committed}" in res.stdout, res.output


def test_a_snapshot_without_a_version_is_compared_with_a_database_without_migrations(
        db_factory, conn_to, project, migrated_db, tmp_path):
    """Inside a project with migrations, a snapshot of a database that has none is not taken for
    the snapshot of the newest migration."""
    reference, live_db = db_factory(), db_factory()
    conn_to(reference).execute("CREATE TABLE public.x (id int)")
    conn_to(live_db).execute("CREATE TABLE public.x (id int); CREATE TABLE public.y (id int)")
    path = tmp_path / "reference.yaml"
    snap_cmd.write(snap_cmd.take(reference, project), path)
    assert "# head: (no migration applied)" in path.read_text() and snap_cmd.read_file(path).version is None
    res = runner.invoke(app, ["drift", "-d", live_db, "--against", str(path), "--project", str(project.root)])
    assert res.exit_code == 1, res.output
    assert res.stdout.splitlines()[0] == "added    table  public.y"
    res = runner.invoke(app, ["drift", "-d", reference, "--against", str(path), "--project", str(project.root)])
    assert res.exit_code == 0 and "no drift" in res.stdout, res.output
    res = runner.invoke(app, ["drift", "-d", migrated_db, "--against", str(path), "--project", str(project.root)])
    said = " ".join(res.stderr.split())
    assert res.exit_code == 2 and "but reference.yaml is the snapshot of no migration applied, an older version" in said


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
    server_only = runner.invoke(app, ["drift", "-d", migrated_db, "--server-url", migrated_db,
                                      "--project", str(project.root)])
    assert server_only.exit_code == 2 and "--server-url only makes sense with --against-migrations" in server_only.stderr
    assert "Traceback" not in both.output + missing.output + bad.output + server_only.output


# ----- the committed snapshot of the server's edition ------------------------------------------

def test_drift_compares_with_the_committed_snapshot_of_the_servers_edition(tmp_project, empty_db):
    tmp_project.pair("0001_create_timescaledb", "-- Why: test.\nCREATE EXTENSION timescaledb;\n",
                     "DROP EXTENSION timescaledb;\n")  # the edition is read where TimescaleDB is installed
    proj = tmp_project.load()
    built = snap_cmd.from_migrations(empty_db, proj)
    migrate(empty_db, proj)
    assert built.edition in ("apache", "timescale")
    committed = snap_cmd.snapshot_file(proj, built.edition)
    assert committed.name == ("snapshot.timescale.yaml" if built.edition == "timescale" else "snapshot.yaml")
    args = ["drift", "-d", empty_db, "--project", str(proj.root)]
    missing = runner.invoke(app, args)
    said = " ".join(missing.stderr.split())  # as one line, however the console wrapped it
    assert missing.exit_code == 2 and f"no snapshot file at {committed}" in said
    assert snap_cmd.make_command(built.edition).split("`")[1] in said  # the command that writes it
    snap_cmd.write(built, committed)
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and f"no drift from {committed}" in res.stdout, res.output
    other = tmp_project.path / "other-edition.yaml"
    snap_cmd.write(snap_cmd.Snapshot(built.data, built.version, "apache" if built.edition == "timescale"
                                     else "timescale"), other)
    wrong = runner.invoke(app, args + ["--against", str(other)])
    assert wrong.exit_code == 2 and f"but the server of {dbname(empty_db)} runs the {built.edition!r} edition" \
        in " ".join(wrong.stderr.split())


# ----- the application database is pg_cron's database (the dev cluster) -------------------------

CRON_APP_DB = "drift_cronapp"
cron_app_proc = factories.postgresql_proc(
    executable=str(cluster.WRAPPER), port=None, dbname="drift_cronapp_unused",
    postgres_options=" ".join([f"-c shared_preload_libraries='{cluster.PRELOAD}'",
                               f"-c cron.database_name={CRON_APP_DB}", "-c timescaledb.telemetry_level=off",
                               "-c timescaledb.max_background_workers=0", "-c cron.enable_superuser_jobs=off",
                               "-c fsync=off"]))


def test_in_the_cron_database_itself_pg_crons_own_objects_are_not_drift(cron_app_proc, project):
    host, port, user = cron_app_proc.host, cron_app_proc.port, cron_app_proc.user
    admin_url = f"postgresql://{user}@{host}:{port}/postgres"
    url = f"postgresql://{user}@{host}:{port}/{CRON_APP_DB}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {CRON_APP_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {CRON_APP_DB}")
    try:
        migrate(url, project)  # and schedules the declared jobs, here in pg_cron's own database
        with psycopg.connect(url, autocommit=True) as c:
            assert c.execute("SELECT current_setting('cron.database_name')").fetchone()[0] == CRON_APP_DB
            assert c.execute("SELECT count(*) FROM pg_policy WHERE polrelid IN ('cron.job'::regclass, "
                             "'cron.job_run_details'::regclass)").fetchone()[0] == 2  # pg_cron's policies
        live = snap_cmd.take(url, project).data
        assert not [(kind, name) for kind, objs in live.items() for name in objs if name.startswith("cron.")]
        assert live["cron_job"] and {j["username"] for j in live["cron_job"].values()} == {JOB_ROLE}
        rep = drift_cmd.drift(url, project, against_migrations=True, server_url=admin_url)
        assert [(c.action, c.kind, c.name) for c in rep.changes] == []
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {CRON_APP_DB} WITH (FORCE)")


def test_two_comparisons_at_once_are_a_usage_error_before_any_database_is_looked_for():
    from cli_support import NO_DATABASE, run

    res = run("drift", "--against", "schema/snapshot.yaml", "--against-migrations", env=NO_DATABASE)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: pass either --against FILE or --against-migrations, not both")
