"""`dbtool seed [ARGS...]`: runs the project's own data generator, the Python file [tool.dbtool] seed names.

Demo data belongs to the project: its tables, roles and proportions change with its migrations, not
with dbtool. So dbtool only finds the file, loads it and hands it the rest of the command line. The
file defines a Typer (or click) `app`, which parses the arguments, prints its own --help and exits;
or a `main(args)` returning the exit code. It may use dbtool's db, errors, output and replica modules.

A read-only standby is refused by the generator, not here: which database it writes to is its own
option (--database-url, DATABASE_URL, PG* variables), parsed by its own app, and `--help` must work with
no database at all. The generator calls dbtool.replica.refuse_standby once it has connected, as
migrate does (docs/replicas.md).
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import Project

KEY = "seed"  # in [tool.dbtool]
HINT = (f'name the generator in [tool.dbtool]: {KEY} = "seed/generate.py" (a Python file, relative to the '
        "project folder, that defines a Typer `app` or a `main(args)`)")


def generator_file(project: Project) -> Path:
    name = project.get(KEY)
    if not name:
        raise UsageError(f"{project.root}: the project declares no seed generator", hint=HINT)
    file = project.root / name
    if not file.is_file():
        raise UsageError(f"{project.root}: the seed generator {name} does not exist", hint=HINT)
    return file


def generator(project: Project) -> ModuleType:
    """The generator's module, loaded once per process: the tests and the benchmarks use its functions
    directly, and must patch the same module the command runs."""
    file = generator_file(project).resolve()
    # A private name per file: never a module of the project's or of dbtool's, and two projects'
    # generators in one process stay apart.
    name = "_dbtool_seed_" + hashlib.sha256(str(file).encode()).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise UsageError(f"{project.root}: the seed generator {file.name} is not a Python file", hint=HINT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name while the file runs
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise  # a bug in the project's file: its traceback is what its author needs
    return module


def run(project: Project, args: list[str], prog_name: str) -> int:
    """Run the generator with args; its exit code. A Typer app exits itself (SystemExit), as it
    does when run on its own."""
    module = generator(project)
    app = getattr(module, "app", None)
    if callable(app):
        app(args=list(args), prog_name=prog_name)
        return 0
    main = getattr(module, "main", None)
    if callable(main):
        return int(main(list(args)) or 0)
    raise UsageError(f"{project.root}: the seed generator {project.get(KEY)} has no Typer `app` and no "
                     "`main(args)` to run", hint=HINT)
