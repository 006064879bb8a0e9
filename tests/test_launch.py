"""The console script's fast start (dbtool/launch.py) prints exactly what the plain Typer app prints.

Three shortcuts, each checked against Typer itself: only the command named on the command line is
built (`runnable`), Typer's pydantic coercion is skipped where it returns the value unchanged
(`lean_typer`), and the output of --help or of a usage error Typer found is replayed from a cache. The
plain side is the whole app of dbtool/cli.py run by unmodified Typer (lean_typer disabled), in one
process; the launcher's side is the installed console script, first with an empty cache (Typer renders)
and then again (replayed)."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from cli_support import DBTOOL
from dbtool import launch
from dbtool.cli import app
from test_docs import cli_commands

ROOT = Path(__file__).resolve().parent.parent

# What Typer prints for these, in one process, with the whole app and its own coercion.
PLAIN = """
import io, json, sys
import dbtool.launch
dbtool.launch.lean_typer = lambda: None  # unmodified Typer
from dbtool.cli import app
out = []
for args in json.loads(sys.argv[1]):
    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    try:
        app(args, prog_name="dbtool")
        code = 0
    except SystemExit as e:
        code = e.code
    out.append([sys.stdout.getvalue(), sys.stderr.getvalue(), code])
sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
print(json.dumps(out))
"""

USAGE_ERRORS = [
    [], ["--no-such-option"], ["migrat"], ["migrate", "--no-such-option"], ["migrate", "--to"],
    ["rollback", "--steps", "abc"], ["seed", "--as-of", "2026-13-01"], ["dev"], ["dev", "up", "--port", "x"],
    ["backup", "list", "--bogus"], ["tenant", "key"], ["new"], ["lint", "--layer"],
]


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("PG")}
    return {**env, "XDG_CACHE_HOME": str(tmp_path / "cache"), "COLUMNS": "100"}


def _plain(cases: list[list[str]], env: dict) -> list[list]:
    p = subprocess.run([sys.executable, "-c", PLAIN, json.dumps(cases)], capture_output=True, text=True, env=env,
                       cwd=ROOT, check=True)
    return json.loads(p.stdout)


def _script(args: list[str], env: dict) -> list:
    p = subprocess.run([DBTOOL, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    return [p.stdout, p.stderr, p.returncode]


def _entries(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "cache" / "dbtool" / "cli"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def test_help_and_usage_errors_print_what_typer_prints_first_rendered_then_replayed(tmp_path):
    root = typer.main.get_command(app)
    cases = [["--help"]] + [[*words, "--help"] for words in cli_commands(root)] + USAGE_ERRORS
    cases += [[g] for g, cmd in root.commands.items() if getattr(cmd, "commands", None) and not cmd.invoke_without_command]
    env = _env(tmp_path)
    plain = _plain(cases, env)
    for args, expected in zip(cases, plain):
        assert expected[2] in (0, 2), (args, expected)
        first = _script(args, env)
        assert first == expected, args
        assert _script(args, env) == expected, args  # replayed
    # `dbtool seed` starts dbtool's command, which runs the project's generator: its help and usage
    # errors come from a file the key does not cover, so they are rendered every time, never kept.
    assert len(_entries(tmp_path)) == len({json.dumps(c) for c in cases if c[:1] != ["seed"]})


def test_a_replayed_run_does_not_import_typer(tmp_path):
    env = _env(tmp_path)
    probe = ("import sys\nsys.argv = [sys.argv[1], '--help']\nfrom dbtool.launch import main\ntry:\n    main()\n"
             "except SystemExit:\n    pass\nprint(sorted(m for m in ('typer', 'rich', 'psycopg', 'pydantic') "
             "if m in sys.modules), file=sys.stderr)\n")
    runs = [subprocess.run([sys.executable, "-c", probe, DBTOOL], capture_output=True, text=True, env=env, cwd=ROOT)
            for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout and "Usage: dbtool [OPTIONS] COMMAND" in runs[0].stdout
    assert runs[0].stderr.splitlines()[-1] == "['typer']"  # rendered: Typer, and nothing else heavy
    assert runs[1].stderr.splitlines()[-1] == "[]"  # replayed


def test_nothing_is_kept_once_a_command_ran_or_for_version(tmp_path):
    env = _env(tmp_path)
    (tmp_path / "backups").mkdir()
    for args, code in ((["status", "--project", str(ROOT)], 2),  # dbtool's own usage error: no database given
                       (["--version"], 0), (["backup", "list", str(tmp_path / "backups")], 0),
                       (["backup", "--out", str(tmp_path / "nowhere")], 2)):
        assert _script(args, env)[2] == code, args
    assert _entries(tmp_path) == []
    res = _script(["status", "--project", str(ROOT)], env)
    assert res[2] == 2 and res[1].startswith("error: no database given")


def test_a_usage_error_found_by_dbtool_imports_no_command_module(tmp_path):
    probe = ("import sys\nsys.argv = ['dbtool', 'status', '--project', sys.argv[1]]\nfrom dbtool.cli import main\n"
             "try:\n    main()\nexcept SystemExit as e:\n    print(e.code, file=sys.stderr)\n"
             "print(sorted(m for m in ('psycopg', 'pglast', 'yoyo', 'rich', 'pydantic', 'dbtool.commands.status') "
             "if m in sys.modules), file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", probe, str(ROOT)], capture_output=True, text=True, env=_env(tmp_path))
    assert p.stderr.splitlines()[-2:] == ["2", "['rich']"], p.stderr  # rich: the error line itself


def test_the_key_changes_with_the_command_line_the_environment_and_any_module(tmp_path, monkeypatch):
    package = tmp_path / "dbtool"
    (package / "commands").mkdir(parents=True)
    for name in ("launch.py", "cli.py", "commands/status.py"):
        (package / name).write_text("# a module\n")
    monkeypatch.setattr(launch, "__file__", str(package / "launch.py"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("COLUMNS", raising=False)
    key = launch.cache_key(["--help"])
    assert key == launch.cache_key(["--help"]) and len(key) == 64
    assert launch.cache_key(["migrate", "--help"]) != key
    monkeypatch.setenv("COLUMNS", "123")
    assert launch.cache_key(["--help"]) != key
    monkeypatch.delenv("COLUMNS")
    assert launch.cache_key(["--help"]) == key
    monkeypatch.setenv("SHLVL", "9")  # shell bookkeeping: not part of the key
    assert launch.cache_key(["--help"]) == key
    status = package / "commands" / "status.py"
    status.write_text("# a module, edited\n")
    assert launch.cache_key(["--help"]) != key
    assert launch.cache_key(["--version"]) is None


def test_a_cache_entry_is_readable_by_its_owner_only(tmp_path):
    _script(["--help"], _env(tmp_path))
    [entry] = _entries(tmp_path)
    assert entry.stat().st_mode & 0o777 == 0o600 and entry.parent.stat().st_mode & 0o777 == 0o700
    assert set(json.loads(entry.read_text())) == {"format", "events", "code"}  # the command line is not kept


def test_runnable_builds_the_named_command_and_stand_ins_and_leaves_the_app_alone():
    before = [(c.name, c.callback) for c in app.registered_commands]
    small = launch.runnable(app, ["migrate", "--help"])
    assert [(c.name, c.callback) for c in app.registered_commands] == before
    built = typer.main.get_command(small)
    assert sorted(built.commands) == sorted(typer.main.get_command(app).commands)
    assert any(p.name == "database_url" for p in built.commands["migrate"].params)
    assert built.commands["status"].params == [] and built.commands["dev"].commands["up"].params == []
    assert any(p.name == "port" for p in typer.main.get_command(launch.runnable(app, ["dev"])).commands["dev"]
               .commands["up"].params)


# ----- lean_typer: the same values and errors as Typer's own coercion --------------------------------

def _params(cmd, path=()):
    for p in cmd.params:
        yield path, p
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _params(sub, (*path, name))


SAMPLES = {str: ["x", "", " a b ", "postgresql://u@h/db", "\udcff"], int: ["3", "abc", "-1"],
           list[str]: [(), ("a",), ("a", "b")], Path: ["some/file"], datetime.datetime: ["2026-12-06", "bad"]}


def test_lean_coercion_gives_typers_values_and_errors_for_every_parameter():
    from typer import _coercion
    from typer._click.exceptions import BadParameter

    from dbtool.cli import lean_typer
    lean_typer()  # already applied by dbtool.cli; applying it again changes nothing
    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    checked = 0
    for path, param in _params(root):
        d = param.type_descriptor
        if d.annotation is bool:
            continue
        for value in [None, *SAMPLES[d.annotation]]:
            param._runtime_param = None
            results = []
            for runtime in (param.get_runtime_param(), _coercion.build_runtime_param(d)):
                try:
                    results.append(("ok", runtime.coerce(value, param=param, ctx=ctx)))
                except BadParameter as e:
                    results.append(("error", e.format_message()))
            assert results[0] == results[1], (path, param.name, value)
            checked += 1
    assert checked > 150


def test_status_and_migrate_parse_their_options_without_pydantic(tmp_path):
    probe = ("import sys\nsys.argv = ['dbtool', *sys.argv[1:]]\nfrom dbtool.cli import main\ntry:\n    main()\n"
             "except SystemExit:\n    pass\nprint('pydantic' in sys.modules, file=sys.stderr)\n")
    for args in (["status", "--project", str(ROOT)], ["migrate", "-q", "--project", str(ROOT)],
                 ["rollback", "--project", str(ROOT), "--lock-wait", "5s"]):
        p = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=_env(tmp_path))
        assert p.stderr.splitlines()[-1] == "False", (args, p.stderr)
    p = subprocess.run([sys.executable, "-c", probe, "rollback", "--steps", "2", "--project", str(ROOT)],
                       capture_output=True, text=True, env=_env(tmp_path))
    assert p.stderr.splitlines()[-1] == "True"  # a number: Typer's own coercion
