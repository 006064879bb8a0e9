"""`dbtool seed` itself, apart from any data: it runs the generator the project's [tool.dbtool] seed
names, hands it the rest of the command line and exits with its code; a project without a usable
generator gets one line and a hint. The M&A generator (seed/generate.py) is tests/test_seed.py's."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cli_support import DBTOOL

TINY = '''
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, rich_markup_mode=None)


@app.command()
def tiny(count: Annotated[int, typer.Option("--count", metavar="N", help="How many rows.")] = 1,
         label: Annotated[Optional[str], typer.Option("--label", help="A name for them.")] = None,
         quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False):
    """A tiny generator."""
    print(f"count={count} label={label} quiet={quiet}")
    raise typer.Exit(1 if count == 13 else 0)
'''


def project(root: Path, seed: str | None = None, source: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[tool.dbtool]\ndatabase = "tiny"\n'
                                         + (f'seed = "{seed}"\n' if seed else ""))
    if seed and source is not None:
        (root / seed).parent.mkdir(parents=True, exist_ok=True)
        (root / seed).write_text(source)
    return root


def dbtool(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess:
    """The console script (launch.py with its cache of help texts), in the project's folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("DBTOOL_PROJECT", "DATABASE_URL")}
    env.update(XDG_CACHE_HOME=str(cache), COLUMNS="100")
    return subprocess.run([DBTOOL, "seed", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


@pytest.mark.parametrize("seed, source, message", [
    (None, None, "the project declares no seed generator"),
    ("gen/missing.py", None, "the seed generator gen/missing.py does not exist"),
    ("gen/empty.py", "VALUE = 1\n", "the seed generator gen/empty.py has no Typer `app` and no `main(args)` to run"),
])
def test_a_project_without_a_usable_generator_gets_one_line_and_a_hint(tmp_path, seed, source, message):
    root = project(tmp_path / "p", seed, source)
    for args in (["--small"], ["--help"]):
        res = dbtool(*args, cwd=root, cache=tmp_path / "cache")
        assert res.returncode == 2 and res.stdout == "", res
        assert res.stderr.splitlines() == [f"error: {root}: {message}",
                                           'hint: name the generator in [tool.dbtool]: seed = "seed/generate.py" '
                                           "(a Python file, relative to the project folder, that defines a Typer "
                                           "`app` or a `main(args)`)"]
    res = dbtool("--json", cwd=root, cache=tmp_path / "cache")
    assert res.returncode == 2 and json.loads(res.stdout)["error"] == f"{root}: {message}"


def test_the_generator_gets_every_argument_and_dbtool_exits_with_its_code(tmp_path):
    root = project(tmp_path / "p", "data/gen.py", TINY)
    res = dbtool("--count", "3", "-q", "--label=x", cwd=root, cache=tmp_path / "cache")
    assert (res.returncode, res.stdout, res.stderr) == (0, "count=3 label=x quiet=True\n", "")
    assert dbtool("--count", "13", cwd=root, cache=tmp_path / "cache").returncode == 1
    bad = dbtool("--count", "many", cwd=root, cache=tmp_path / "cache")  # the generator's own usage error
    assert bad.returncode == 2 and "Usage: dbtool seed [OPTIONS]" in bad.stderr and "'--count'" in bad.stderr


def test_project_names_the_project_from_anywhere_and_main_args_is_an_entry_point_too(tmp_path):
    root = project(tmp_path / "p", "gen.py", "def main(args):\n    print(args)\n    return 3\n")
    res = dbtool("--project", str(root), "--small", "-j", "2", cwd=tmp_path, cache=tmp_path / "cache")
    assert (res.returncode, res.stdout) == (3, "['--small', '-j', '2']\n"), res.stderr


def test_help_is_the_generators_and_follows_its_file(tmp_path):
    root = project(tmp_path / "p", "data/gen.py", TINY)
    for _ in range(2):  # the second run would be the replayed one, were it kept
        res = dbtool("--help", cwd=root, cache=tmp_path / "cache")
        assert res.returncode == 0 and res.stdout.startswith("Usage: dbtool seed [OPTIONS]\n"), res
        assert "A tiny generator." in res.stdout and "--count N" in res.stdout and "--colour" not in res.stdout
    (root / "data/gen.py").write_text(TINY.replace('"--label"', '"--colour"'))
    res = dbtool("--help", cwd=root, cache=tmp_path / "cache")
    assert "--colour" in res.stdout and "--label" not in res.stdout
