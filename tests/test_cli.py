"""The CLI in-process (Typer's runner) and as a real subprocess: options, output, exit codes, errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from cli_support import DBTOOL, NO_DATABASE, run


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
    res = run("status", "--project", proj, env=NO_DATABASE)
    assert res.exit_code == 2
    assert "error: no database given" in res.stderr


def test_rollback_without_tty_needs_yes(tmp_project, empty_db):
    proj = project_with_one_migration(tmp_project)
    run("migrate", "-d", empty_db, "--project", proj)
    res = run("rollback", "-d", empty_db, "--project", proj)
    assert res.exit_code == 2 and "--yes" in res.stderr
    res = run("rollback", "-d", empty_db, "--project", proj, "--yes")
    assert res.exit_code == 0 and "rolled back 1 migration(s)" in res.stdout


@pytest.mark.parametrize("url, message, code", [
    ("postgresql://postgres@127.0.0.1:1/x", "no server is listening there", 3),
    ("postgresql://postgres@no-such-host.invalid:5432/x", "unknown host", 3),
    ("postgresql://postgres@127.0.0.1:5432:99/x", "invalid database URL", 2),
    ("postgresql://postgres@127.0.0.1:99999/x", "invalid database URL", 2),
    ("host=127.0.0.1 port=5432 bogus_option=1", "invalid database URL", 2),
])
def test_unreachable_or_malformed_url_is_one_clear_line(tmp_project, url, message, code):
    proj = project_with_one_migration(tmp_project)
    res = run("migrate", "-d", url, "--project", proj)
    assert res.exit_code == code
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


@pytest.mark.parametrize("sql, sqlstate, field, text", [
    ("CREATE TABLE public.p (id int PRIMARY KEY);\nCREATE TABLE public.c (p_id int REFERENCES public.p);\n"
     "INSERT INTO public.c VALUES (7);\n", "23503", "detail", "Key (p_id)=(7) is not present in table \"p\"."),
    ("CREATE TABLE public.p (id int);\nSELECT public.no_such_function(1);\n", "42883", "hint",
     "No function matches the given name and argument types"),
])
def test_migration_error_json_carries_postgresql_detail_and_hint(tmp_project, empty_db, sql, sqlstate, field, text):
    tmp_project.pair("0001_create_p", "-- Why: test.\n" + sql, "DROP TABLE public.p;\n")
    res = run("migrate", "-d", empty_db, "--project", str(tmp_project.path), "--json")
    assert res.exit_code == 3
    body = json.loads(res.stdout)
    assert body["error"].startswith("migrations/0001_create_p.sql:") and sqlstate in body["error"]
    assert text in body[field]
    res = run("migrate", "-d", empty_db, "--project", str(tmp_project.path))
    assert f"{field}: {text}" in res.stderr or f"  {text}" in res.stderr


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


@pytest.mark.parametrize("url, secret", [
    ("postgresql://u:my secret@127.0.0.1:1/db", "my secret"),
    ("postgresql://u:pa%zzss@127.0.0.1:1/db", "pa%zzss"),
    ("postgresql://u:p@ss@127.0.0.1:1/db", "p@ss"),
    ("host=127.0.0.1 port=1 user=u password=hunter2 bogus=1", "hunter2"),
    ("postgresql://u:hunter2@127.0.0.1:99999/db", "hunter2"),
])
@pytest.mark.parametrize("as_json", [False, True])
def test_no_error_path_prints_the_password(tmp_project, url, secret, as_json):
    proj = project_with_one_migration(tmp_project)
    res = run("status", "-d", url, "--project", proj, *(["--json"] if as_json else []))
    assert res.exit_code in (2, 3)
    assert secret not in res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr


def test_bad_rollback_options_are_usage_errors_found_before_connecting(tmp_project):
    proj = project_with_one_migration(tmp_project)
    dead = "postgresql://postgres@127.0.0.1:1/x"
    res = run("rollback", "-d", dead, "--project", proj, "--steps", "0")
    assert res.exit_code == 2 and "--steps must be at least 1" in res.stderr
    res = run("rollback", "-d", dead, "--project", proj, "--steps", "1", "--all")
    assert res.exit_code == 2 and "only one of" in res.stderr
    res = run("migrate", "-d", dead, "--project", proj, "--lock-wait", "soon")
    assert res.exit_code == 2 and "lock-wait 'soon' is not a duration" in res.stderr


def test_dev_reset_and_destroy_need_yes_without_a_terminal(tmp_path):
    env = {"DBTOOL_PROJECT": str(tmp_path)}
    (tmp_path / "pyproject.toml").write_text('[tool.dbtool]\ndatabase = "x"\n')
    for cmd in (["dev", "reset"], ["dev", "destroy"]):
        res = run(*cmd, env=env)
        assert res.exit_code == 2 and "--yes" in res.stderr, cmd


# A password with the characters a URL reserves, in each form a URL can carry it. Left unencoded,
# libpq reads part of it as the host, port or database name, which every message used to print.
UNENCODED = [
    "postgresql://{user}:Sec/ret99@{host}:{port}/postgres",
    "postgresql://{user}:Sec@ret99@{host}:{port}/postgres",
    "postgresql://{user}:Sec?ret99@{host}:{port}/postgres",
    "postgresql://{host}:{port}?user={user}&password=Sec@ret99",
]
UNPARSABLE = [
    "postgresql://{user}:Sec%ret99@{host}:{port}/postgres",
    "postgresql://{user}:Sec ret99@{host}:{port}/postgres",
    "postgresql://{host}:{port}/postgres?user={user}&password=Sec&ret99",
    "host={host} port={port} user={user} password=Sec ret99",
    "host={host} port={port} user={user} password='Sec ret99' port=x",
]
WELL_FORMED = [
    "postgresql://{user}:Sec%2Fret99%40@{host}:{port}/postgres",
    "postgresql://{host}:{port}/postgres?user={user}&password=Sec/ret99@",
    "postgresql://{host}:{port}/postgres?user={user}&password=Sec%2Fret99",
    "host={host} port={port} user={user} dbname=postgres password='Sec/ret99@ x'",
]


def status_of(url: str, proj: str, as_json: bool):
    res = run("status", "-d", url, "--project", proj, *(["--json"] if as_json else []))
    shown = res.stdout + res.stderr
    assert "Sec" not in shown and "ret99" not in shown, shown
    assert "Traceback" not in shown
    message = json.loads(res.stdout)["error"] if as_json else res.stderr
    return res.exit_code, message, (json.loads(res.stdout)["hint"] if as_json else res.stderr)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("shape", UNENCODED)
def test_an_unencoded_slash_at_or_question_mark_in_the_password_is_a_usage_error_that_prints_none_of_it(
        tmp_project, server, password_user, shape, as_json):
    url = shape.format(user=password_user, host=server.host, port=server.port)
    code, message, hint = status_of(url, project_with_one_migration(tmp_project), as_json)
    assert code == 2, message
    assert "unencoded" in message and "percent-encode" in hint and "%2F" in hint and "%40" in hint


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("shape", UNPARSABLE)
def test_a_url_libpq_cannot_parse_is_a_usage_error_that_prints_no_part_of_the_password(
        tmp_project, server, password_user, shape, as_json):
    url = shape.format(user=password_user, host=server.host, port=server.port)
    code, message, _ = status_of(url, project_with_one_migration(tmp_project), as_json)
    assert code == 2 and "invalid database URL" in message, message


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("shape", WELL_FORMED)
def test_a_wrong_password_with_reserved_characters_is_an_authentication_failure_that_prints_none_of_it(
        tmp_project, server, password_user, shape, as_json):
    url = shape.format(user=password_user, host=server.host, port=server.port)
    code, message, _ = status_of(url, project_with_one_migration(tmp_project), as_json)
    assert code == 3 and "authentication failed" in message, message


def test_text_in_square_brackets_is_printed_literally_never_as_markup(tmp_path, tmp_project, empty_db, monkeypatch):
    """Messages carry user and server text: `[tool.dbtool]` in our own message and `[bold]` in a
    PostgreSQL error must reach the terminal as written."""
    empty = tmp_path / "nothing"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.delenv("DBTOOL_PROJECT", raising=False)
    res = run("status", "-d", empty_db)
    assert "[tool.dbtool]" in res.stderr, res.stderr
    tmp_project.pair("0001_create_x", "-- Why: test.\nDO $$BEGIN RAISE EXCEPTION '[bold]loud[/bold] [red]x'; END$$;\n",
                     "SELECT 1;\n")
    res = run("migrate", "-d", empty_db, "--project", str(tmp_project.path))
    assert res.exit_code == 3 and "[bold]loud[/bold] [red]x" in res.stderr, res.stderr


# ----- --version, -q, prompts ---------------------------------------------------------------------

def test_version_prints_the_installed_version_without_loading_the_heavy_modules():
    from importlib.metadata import version
    res = run("--version")
    assert res.exit_code == 0 and res.stdout == f"dbtool {version('dbtool')}\n"
    probe = ("import sys\nsys.argv = ['dbtool', sys.argv[1]]\nfrom dbtool.cli import main\ntry:\n    main()\n"
             "except SystemExit:\n    pass\nprint(sorted(m for m in ('sqlfluff', 'boto3', 'yaml', 'pglast', 'yoyo') "
             "if m in sys.modules), file=sys.stderr)\n")
    for flag in ("--version", "--help"):
        p = subprocess.run([sys.executable, "-c", probe, flag], capture_output=True, text=True)
        assert p.returncode == 0 and p.stderr.strip() == "[]", (flag, p.stderr)


QUIET_COMMANDS = {("migrate",), ("rollback",), ("verify",), ("backup",), ("restore",), ("seed",)}


def test_quiet_is_the_same_option_on_every_command_that_prints_progress():
    import typer

    from dbtool import config
    from dbtool.cli import app
    from dbtool.commands import seed as seed_loader
    from test_docs import ROOT, cli_commands
    root = typer.main.get_command(app)
    found = {}
    for words in cli_commands(root):
        cmd = root
        for w in words:
            cmd = cmd.commands[w]
        if words == ("seed",):  # dbtool hands the options to the project's generator, which defines them
            cmd = typer.main.get_command(seed_loader.generator(config.load(ROOT)).app)
        for param in cmd.params:
            if "--quiet" in getattr(param, "opts", []):
                found[words] = (tuple(param.opts), param.help)
    assert set(found) == QUIET_COMMANDS
    assert {v for v in found.values()} == {(("--quiet", "-q"), "Print only errors, warnings and the final summary "
                                                              "line (no progress, no per-item lines).")}


def test_migrate_quiet_prints_one_summary_line_on_the_real_project(tmp_project, empty_db):
    tmp_project.copy_real_migrations()
    (tmp_project.path / "pyproject.toml").write_text('[tool.dbtool]\nowner_role = "maplatform_owner"\n')
    p = subprocess.run([DBTOOL, "migrate", "-q", "-d", empty_db, "--project", str(tmp_project.path)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    assert re.match(rf"^{empty_db.rsplit('/', 1)[1]}: applied \d+ migration\(s\), re-applied \d+ repeatable "
                    r"object\(s\)(, \d+ cron job\(s\) changed)?$", lines[0]), lines[0]


def test_rollback_quiet_prints_only_its_summary(tmp_project, empty_db):
    proj = project_with_one_migration(tmp_project)
    run("migrate", "-d", empty_db, "--project", proj)
    p = subprocess.run([DBTOOL, "rollback", "-q", "--yes", "-d", empty_db, "--project", proj],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "" and p.stdout == f"{empty_db.rsplit('/', 1)[1]}: rolled back 1 migration(s)\n"


def in_terminal(args: list[str], answer: str, cwd=None) -> subprocess.CompletedProcess:
    """Run dbtool with a terminal on stdin (a pty) and type `answer`; stdout and stderr are captured."""
    import os
    import pty
    main_fd, term_fd = pty.openpty()
    try:
        p = subprocess.Popen([DBTOOL, *args], stdin=term_fd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=cwd)
        os.write(main_fd, answer.encode())
        stdout, stderr = p.communicate(timeout=120)
    finally:
        os.close(term_fd)
        os.close(main_fd)
    return subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)


def test_no_at_the_rollback_prompt_cancels_with_exit_2_and_undoes_nothing(tmp_project, empty_db, conn_to):
    proj = project_with_one_migration(tmp_project)
    run("migrate", "-d", empty_db, "--project", proj)
    p = in_terminal(["rollback", "-d", empty_db, "--project", proj], "n\n")
    assert "Roll back 0001_create_a on" in p.stdout
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stderr == "error: cancelled: nothing was changed\n"
    assert conn_to(empty_db).execute("SELECT to_regclass('public.a')").fetchone()[0] == "a"
    p = in_terminal(["rollback", "-d", empty_db, "--project", proj], "y\n")
    assert p.returncode == 0 and "rolled back 1 migration(s)" in p.stdout, p.stderr


def test_no_at_the_dev_destroy_prompt_cancels_with_exit_2_and_keeps_the_data(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.dbtool]\ndatabase = "x"\n')
    kept = tmp_path / ".dbtool" / "dev" / "keep-me"
    kept.parent.mkdir(parents=True)
    kept.write_text("data")
    for answer in ("n\n", ""):  # "no", and end of input at the prompt
        p = in_terminal(["dev", "destroy", "--project", str(tmp_path)], answer + ("\x04" if not answer else ""))
        assert p.returncode == 2, (answer, p.stdout, p.stderr)
        assert p.stderr.splitlines()[-1] == "error: cancelled: nothing was changed"
        assert "Aborted" not in p.stdout + p.stderr
    assert kept.read_text() == "data"


# ----- the one error root ------------------------------------------------------------------------


def _exit_of(raised: BaseException) -> int:
    import typer

    from dbtool.output import handled
    with pytest.raises(typer.Exit) as caught:
        with handled():
            raise raised
    return caught.value.exit_code


def test_a_full_disk_or_an_io_error_is_a_failure_not_a_usage_error(capsys):
    import errno
    assert _exit_of(OSError(errno.ENOSPC, "No space left on device", "/backups/a.dump")) == 3
    assert _exit_of(OSError(errno.EIO, "Input/output error", "/backups/a.dump")) == 3
    assert "error: /backups/a.dump: No space left on device" in capsys.readouterr().err


def test_a_path_the_user_got_wrong_is_a_usage_error(capsys):
    import errno
    assert _exit_of(FileNotFoundError(errno.ENOENT, "No such file or directory", "nowhere.sql")) == 2
    assert _exit_of(IsADirectoryError(errno.EISDIR, "Is a directory", "migrations")) == 2
    assert "error: nowhere.sql: No such file or directory" in capsys.readouterr().err


def test_ctrl_c_exits_130_saying_interrupted(capsys):
    assert _exit_of(KeyboardInterrupt()) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_a_repeatable_file_error_is_a_dbtool_error_with_the_wrapped_errors_exit_code():
    from dbtool.errors import DatabaseFailure, DbtoolError
    from dbtool.repeatables import RepeatableError
    wrapped = DatabaseFailure("sql/views/x.sql:3:1: 42P01 relation \"y\" does not exist", hint="h")
    e = RepeatableError("42P01", wrapped)
    assert isinstance(e, DbtoolError) and (e.message, e.hint, e.exit_code, e.sqlstate) == (wrapped.message, "h", 3, "42P01")
    assert _exit_of(e) == 3


@pytest.mark.parametrize("args, problem", [
    (["rollback", "--steps", "0"], "--steps must be at least 1"),
    (["rollback", "--all", "--steps", "2"], "give only one of --steps, --to and --all"),
    (["log", "--limit", "0"], "--limit must be at least 1"),
    (["repair"], "say what to repair"),
])
def test_a_bad_option_is_named_before_any_database_is_looked_for(args, problem):
    res = run(*args, env=NO_DATABASE)
    assert res.exit_code == 2 and res.stderr.startswith(f"error: {problem}"), res.stderr
