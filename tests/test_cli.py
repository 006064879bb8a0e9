"""The CLI in-process (Typer's runner) and as a real subprocess: options, output, exit codes, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbtool.cli import app

runner = CliRunner()
DBTOOL = str(Path(sys.executable).parent / "dbtool")


def run(*args, env=None):
    return runner.invoke(app, list(args), env=env)


def project_with_one_migration(tmp_project):
    tmp_project.pair("0001_create_a", "-- Why: test.\nCREATE TABLE public.a (id int);\n", "DROP TABLE public.a;\n")
    return str(tmp_project.path)


def test_help_lists_the_commands_and_documents_exit_codes():
    res = run("--help")
    assert res.exit_code == 0
    for cmd in ("migrate", "rollback", "status", "new", "repair", "dev"):
        assert cmd in res.output
    assert "0  ok" in res.output and "3  database or migration failure" in res.output


def test_migrate_then_status_json_for_ci(tmp_project, empty_db):
    proj = project_with_one_migration(tmp_project)
    res = run("migrate", "--database-url", empty_db, "--project", proj, "--json")
    assert res.exit_code == 0, res.output
    assert [m["id"] for m in json.loads(res.stdout)["applied"]] == ["0001_create_a"]
    res = run("status", "-d", empty_db, "--project", proj, "--json", "--exit-code")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["counts"] == {"applied": 1}


def test_status_exit_code_is_1_when_something_is_pending(tmp_project, empty_db):
    proj = project_with_one_migration(tmp_project)
    res = run("status", "-d", empty_db, "--project", proj, "--exit-code")
    assert res.exit_code == 1
    assert "pending  0001_create_a" in res.stdout


def test_database_url_falls_back_to_DATABASE_URL(tmp_project, empty_db):
    proj = project_with_one_migration(tmp_project)
    res = run("status", "--project", proj, env={"DATABASE_URL": empty_db})
    assert res.exit_code == 0 and "1 pending" in res.stdout


def test_no_database_given_is_a_usage_error(tmp_project):
    proj = project_with_one_migration(tmp_project)
    env = {k: "" for k in ("DATABASE_URL", "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGHOSTADDR")}
    res = run("status", "--project", proj, env=env)
    assert res.exit_code == 2
    assert "error: no database given" in res.stderr


def test_rollback_without_tty_needs_yes(tmp_project, empty_db):
    proj = project_with_one_migration(tmp_project)
    run("migrate", "-d", empty_db, "--project", proj)
    res = run("rollback", "-d", empty_db, "--project", proj)
    assert res.exit_code == 2 and "--yes" in res.stderr
    res = run("rollback", "-d", empty_db, "--project", proj, "--yes")
    assert res.exit_code == 0 and "rolled back 1 migration(s)" in res.stdout


@pytest.mark.parametrize("url, message", [
    ("postgresql://postgres@127.0.0.1:1/x", "no server is listening there"),
    ("postgresql://postgres@no-such-host.invalid:5432/x", "unknown host"),
    ("postgresql://postgres@127.0.0.1:5432:99/x", "invalid database URL"),
    ("host=127.0.0.1 port=5432 bogus_option=1", "invalid database URL"),
])
def test_unreachable_or_malformed_url_is_one_clear_line(tmp_project, url, message):
    proj = project_with_one_migration(tmp_project)
    res = run("migrate", "-d", url, "--project", proj)
    assert res.exit_code in (2, 3)
    assert message in res.stderr
    assert "Traceback" not in res.output + res.stderr
    assert res.stderr.count("error:") == 1


def test_wrong_password_fails_without_printing_it(tmp_project, server, password_user, db_factory):
    proj = project_with_one_migration(tmp_project)
    name = db_factory()
    url = server.url(name.rsplit("/", 1)[1], user=password_user, password="wrong-secret-xyz")
    res = run("migrate", "-d", url, "--project", proj)
    assert res.exit_code == 3
    assert "authentication failed" in res.stderr
    assert "wrong-secret-xyz" not in res.output + res.stderr


def test_right_password_connects(tmp_project, server, password_user, db_factory):
    proj = project_with_one_migration(tmp_project)
    name = db_factory().rsplit("/", 1)[1]
    url = server.url(name, user=password_user, password="right-secret")
    res = run("status", "-d", url, "--project", proj)
    assert res.exit_code == 0, res.stderr


def test_migration_error_json_has_message_detail_hint(tmp_project, empty_db):
    tmp_project.pair("0001_create_a", "-- Why: test.\nCREATE TABLE public.a (id int REFERENCES public.nope(id));\n",
                     "DROP TABLE public.a;\n")
    res = run("migrate", "-d", empty_db, "--project", str(tmp_project.path), "--json")
    assert res.exit_code == 3
    body = json.loads(res.stdout)
    assert body["error"].startswith("migrations/0001_create_a.sql:2:")
    assert "42P01" in body["error"] and body["exit_code"] == 3


def test_real_subprocess_migrate_prints_progress_on_stderr_and_result_on_stdout(tmp_project, empty_db):
    proj = project_with_one_migration(tmp_project)
    p = subprocess.run([DBTOOL, "migrate", "-d", empty_db, "--project", proj], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "[1/1] applying 0001_create_a" in p.stderr
    assert "applied 1 migration(s)" in p.stdout


def test_real_subprocess_bad_input_has_no_traceback(tmp_project):
    proj = project_with_one_migration(tmp_project)
    p = subprocess.run([DBTOOL, "status", "-d", "postgresql://u:s3cret@127.0.0.1:1/x", "--project", proj],
                       capture_output=True, text=True)
    assert p.returncode == 3
    assert p.stderr.startswith("error: cannot connect to u@127.0.0.1:1/x")
    assert "s3cret" not in p.stderr and "Traceback" not in p.stderr


def test_unknown_option_is_usage_exit_2():
    res = run("migrate", "--frobnicate")
    assert res.exit_code == 2
