"""The layers of dbtool (docs/architecture.md), read from the source: the CLI (cli.py, launch.py)
parses options and prints; dbtool/commands/ holds one module per command, which imports only the
core; the core (every other module) never imports a command; no module imports another's private
name. Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dbtool"
CLI = {"dbtool.cli", "dbtool.launch"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) for every import in the file: `import a.b` gives (a.b, None), `from a import b`
    gives (a, b) and also (a.b, None) when a.b is a module of the package."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for a in node.names:
                found.append((base, a.name))
                if (PACKAGE.parent / Path(*f"{base}.{a.name}".split("."))).with_suffix(".py").exists():
                    found.append((f"{base}.{a.name}", None))
    return found


def sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_source_tree_has_commands_and_a_core():
    names = {module_name(p) for p in sources()}
    assert {"dbtool.commands.migrate", "dbtool.runs", "dbtool.engine", "dbtool.cli"} <= names


@pytest.mark.parametrize("path", sorted((PACKAGE / "commands").glob("*.py")), ids=lambda p: p.name)
def test_no_command_module_imports_another_command_module(path):
    me = module_name(path)
    others = sorted({m for m, _ in imports(path)
                     if m.startswith("dbtool.commands.") and m != me})
    assert others == [], f"{me} imports {others}: move what they share into the core (docs/architecture.md)"


def test_the_core_never_imports_a_command():
    offenders = {}
    for path in sources():
        me = module_name(path)
        if me in CLI or me.startswith("dbtool.commands"):
            continue
        up = sorted({m for m, _ in imports(path) if m.startswith("dbtool.commands")})
        if up:
            offenders[me] = up
    assert offenders == {}


def test_no_module_imports_another_modules_private_name():
    offenders = []
    for path in sources():
        for module, name in imports(path):
            if module.startswith("dbtool") and name and name.startswith("_") and not name.startswith("__"):
                offenders.append(f"{module_name(path)}: from {module} import {name}")
    assert offenders == []


def test_the_projects_seed_generator_uses_the_core_as_a_library():
    """seed/generate.py is the project's code: it may use the core's public names, never the CLI, a
    command, or a private name, and dbtool holds nothing of it."""
    generator = PACKAGE.parent / "seed" / "generate.py"
    used = [(m, n) for m, n in imports(generator) if m.startswith("dbtool")]
    assert ("dbtool", "db") in used
    assert [f"{m} {n or ''}".strip() for m, n in used
            if m in CLI or m.startswith("dbtool.commands") or (n or "").startswith("_")] == []
    assert not (PACKAGE / "seed").exists()


PRINTING = {"print", "emit_json", "label"}
# The only printing left in cli.py: --version, which has no command and no result.
MAY_PRINT = {"_print_version"}


def _printing_calls(tree: ast.AST) -> list[tuple[str, int]]:
    """(enclosing function, line) of each out.print / err.print / emit_json / label call."""
    found = []
    for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
        for node in ast.walk(fn):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in PRINTING and fn.name not in MAY_PRINT:
                    found.append((fn.name, node.lineno))
    return found


def test_the_cli_renders_nothing_itself():
    """Each command's result renders itself (lines(), as_dict(), exit_code; output.show prints it):
    cli.py only parses options, calls the command and hands the result to show()."""
    tree = ast.parse((PACKAGE / "cli.py").read_text())
    assert _printing_calls(tree) == []


def test_the_cli_validates_no_option_itself():
    """Option checks live in the command (tests and other callers get them too), not in cli.py;
    only the yes/no prompt of a destructive command refuses there."""
    tree = ast.parse((PACKAGE / "cli.py").read_text())
    raising = sorted({fn.name for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef)
                      for node in ast.walk(fn) if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                      and getattr(node.exc.func, "id", "") in ("UsageError", "DbtoolError")})
    assert raising == ["_ask", "_confirm"]
