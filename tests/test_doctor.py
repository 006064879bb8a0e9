"""`dbtool doctor` on a prepared server and on an untouched one."""

import json

import psycopg

from typer.testing import CliRunner

from dbtool.cli import app
from dbtool.commands.doctor import doctor

runner = CliRunner()


def conn_version(url, ext):
    with psycopg.connect(url) as c:
        return c.execute("SELECT extversion FROM pg_extension WHERE extname = %s", [ext]).fetchone()[0]


def by_name(checks):
    return {c.name: c for c in checks}


def test_doctor_is_clean_on_the_prepared_test_server(migrated_db, server, conn_to):
    conn_to(server.url("postgres")).execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
    checks = by_name(doctor(migrated_db))
    assert {c.status for c in checks.values()} == {"ok"}, [c for c in checks.values() if c.status != "ok"]
    installed = conn_version(migrated_db, "vector")
    assert checks["extension vector"].value.startswith(f"installed {installed} (available ")
    assert checks["timescaledb edition"].value.startswith("apache — Apache edition")
    assert "database 'postgres'" in checks["cron.database_name"].value
    assert checks["connecting role"].value == "postgres: superuser"


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


def test_doctor_names_each_missing_item_with_its_fix_on_an_untouched_server(bare_server):
    checks = by_name(doctor(bare_server.url()))
    pre = checks["shared_preload_libraries"]
    assert pre.status == "missing"
    assert "pg_stat_statements,pg_cron,timescaledb" in pre.fix and "restart" in pre.fix
    assert checks["pg_cron"].status == "missing"
    assert checks["timescaledb edition"].status == "missing"
    assert checks["extension vector"].status == "ok"  # the package is installed, only preload is missing


def test_doctor_cli_exits_1_with_findings_and_prints_json(bare_server):
    res = runner.invoke(app, ["doctor", "-d", bare_server.url(), "--json"])
    assert res.exit_code == 1
    rows = json.loads(res.stdout)
    assert any(r["name"] == "shared_preload_libraries" and r["status"] == "missing" for r in rows)


def test_doctor_cli_exits_0_on_a_fit_server(migrated_db):
    res = runner.invoke(app, ["doctor", "-d", migrated_db])
    assert res.exit_code == 0, res.output
    assert "timescaledb edition" in res.stdout


def test_doctor_reports_the_time_series_path_the_migrations_took(migrated_db):
    check = by_name(doctor(migrated_db))["time-series path taken"]
    assert check.status == "ok"
    assert "retention: pg_cron job activity_timeline_retention (drop_chunks)" in check.value
    assert "daily_activity_summary: materialized view refreshed by pg_cron" in check.value


def test_doctor_tells_a_member_of_the_owner_role_it_may_migrate_and_a_stranger_what_to_grant(migrated_db, conn_to):
    c = conn_to(migrated_db)
    c.execute("DO $$BEGIN CREATE ROLE doctor_member LOGIN IN ROLE maplatform_owner; "
              "CREATE ROLE doctor_stranger LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$")
    member = by_name(doctor(migrated_db.replace("//postgres@", "//doctor_member@")))
    assert member["member of maplatform_owner"].status == "ok"
    stranger = by_name(doctor(migrated_db.replace("//postgres@", "//doctor_stranger@")))
    assert stranger["member of maplatform_owner"].fix == "GRANT maplatform_owner TO doctor_stranger; (migrations SET ROLE to it)"
