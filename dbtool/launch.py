"""`dbtool`, the console script: the CLI of dbtool/cli.py, started with as little work as possible.

A DBA runs dbtool many times a day and in every CI step, so its start-up counts (docs/benchmarks.md,
section 4). These keep it short, and none changes what a run prints or does:

- **Only the command that runs is built.** Typer turns every command function into a click command
  (reading each parameter's annotation) before it parses anything. `runnable()` gives it the
  command named on the command line as written and, for every other command, a stand-in with the
  same name and docstring and no parameters: enough for the root help and for "No such command",
  and a fraction of the work.
- **No pydantic where it would do nothing.** Typer 0.29 coerces every option value through a pydantic
  TypeAdapter, built on first use; importing pydantic and building the first adapter takes longer
  than all the rest of `dbtool status`. `lean_typer()` returns an option left unset as Typer does
  (None) and a `str` option's text unchanged (exactly what the adapter returns), and hands every other
  value (numbers, paths, dates) to Typer's own coercion, adapter and error messages included.
- **Help and usage errors are replayed.** What Typer printed for `--help`, or for a command line it
  refused before any command ran, is kept in `$XDG_CACHE_HOME/dbtool/cli/` (default ~/.cache),
  under a key made of everything that output can depend on: the command line, the current folder,
  the environment, the terminal (size, whether each stream is one, encodings), the Python
  interpreter, the modification time and size of every module of dbtool and of Typer, and the
  packages installed next to Typer. The next identical run prints it again without importing Typer
  at all. Anything else (any run in which a command's code started, `--version`, output that did
  not go through sys.stdout and sys.stderr, an exit code other than 0 or 2) is never kept. The
  callback of a group, run by click before its subcommand's options are parsed, must therefore stay
  free of effects (the root's only declares --version; backup's returns when a subcommand follows).
- **No garbage collection at exit.** After every other atexit handler, the objects still alive are
  frozen out of the garbage collector, so the interpreter does not collect every module's objects one
  by one at shutdown (40-60 ms with psycopg, Typer, pglast and yoyo loaded). The standard streams are
  still flushed; Python does not promise to run the finalizers of objects alive at exit, and dbtool
  closes its connections and files itself.

tests/test_launch.py proves that the first three print what the plain Typer app prints.
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import os
import sys

# Imported here: only what a replayed run needs (json and functools where they are used, no typing).

FORMAT = 1  # of a cache entry; part of the key
MAX_ENTRIES = 400  # the oldest half goes when there are more (each distinct bad command line adds one)
# Shell bookkeeping that changes between identical runs and that no output depends on.
VOLATILE_ENV = frozenset({"_", "OLDPWD", "SHLVL"})


def main() -> None:
    atexit.register(gc.freeze)  # registered first, so it runs last (see the module's docstring)
    argv = sys.argv[1:]
    key = cache_key(argv)
    if key is not None:
        _replay(key)  # exits when the output is known
    from . import cli

    app = runnable(cli.app, argv)
    if key is None:
        app()
    else:
        _record(app, key)


# ----- only the command that runs ----------------------------------------------------------------


def runnable(app, argv: list[str]):
    """A copy of the Typer `app` in which each command (or group) named anywhere in argv is the real
    one, and every other command a stand-in: its name and docstring, no parameters. click finds the
    command to run by its name in argv, so the one that runs is always real. `app` is unchanged."""
    from typer.models import DefaultPlaceholder

    words = set(argv)
    copy = _copy_typer(app)
    copy.registered_commands = [info if _name(info) in words else _stub_command(info, DefaultPlaceholder)
                                for info in app.registered_commands]
    copy.registered_groups = [info if _group_name(info) in words else _stub_group(info, DefaultPlaceholder)
                              for info in app.registered_groups]
    return copy


def _copy_typer(app):
    import copy as _copy

    return _copy.copy(app)


def _name(info) -> str:
    """The command's name as Typer gives it (typer.main.get_command_name)."""
    return info.name or info.callback.__name__.lower().replace("_", "-")


def _group_name(info) -> str | None:
    from typer.models import DefaultPlaceholder

    name = info.name
    if isinstance(name, DefaultPlaceholder):
        name = name.value
    if name is None and info.typer_instance is not None:
        name = info.typer_instance.info.name
        if isinstance(name, DefaultPlaceholder):
            name = name.value
    return name


def _stand_in(fn):
    """A function without parameters that Typer names and describes as it does `fn`."""
    def stand_in():  # pragma: no cover - never called: its command is not the one that runs
        raise RuntimeError(f"{fn.__name__} was not built for this run")
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(stand_in, attr, getattr(fn, attr))
    return stand_in


def _stub_command(info, placeholder):
    import copy

    stub = copy.copy(info)
    if callable(info.callback) and not isinstance(info.callback, placeholder):
        stub.callback = _stand_in(info.callback)
    return stub


def _stub_group(info, placeholder):
    """A sub-app as the root's help lists it: its name and help, its commands without parameters."""
    import copy

    stub = copy.copy(info)
    if callable(info.callback) and not isinstance(info.callback, placeholder):
        stub.callback = _stand_in(info.callback)
    sub = info.typer_instance
    if sub is not None:
        sub = stub.typer_instance = _copy_typer(sub)
        sub.registered_commands = [_stub_command(c, placeholder) for c in sub.registered_commands]
        sub.registered_groups = [_stub_group(g, placeholder) for g in sub.registered_groups]
        if sub.registered_callback is not None:
            sub.registered_callback = _stub_command(sub.registered_callback, placeholder)
        if callable(sub.info.callback) and not isinstance(sub.info.callback, placeholder):
            sub.info = copy.copy(sub.info)
            sub.info.callback = _stand_in(sub.info.callback)
    return stub


# ----- no pydantic where it would do nothing ------------------------------------------------------


def lean_typer() -> None:
    """Make Typer build its pydantic coercion of a parameter only for a value that needs it (see the
    module's docstring). Does nothing on a Typer without that machinery."""
    try:
        from dataclasses import dataclass

        from typer import _coercion, core
    except ImportError:  # pragma: no cover - another Typer
        return
    parameter = getattr(core, "_TyperParameter", None)
    if (parameter is None or not hasattr(parameter, "get_runtime_param")
            or not hasattr(_coercion, "build_runtime_param") or getattr(parameter, "_dbtool_lean", False)):
        return
    text_list = list[str]

    @dataclass(frozen=True)
    class LeanRuntimeParam(_coercion.RuntimeParam):
        """Typer's RuntimeParam.coerce() returns an unset value (None) itself; this one also returns
        text for a `str` (list[str]) parameter as is, which is what the adapter returns, and builds
        Typer's own coercion for anything else."""
        descriptor: object = None

        def _coerce_value(self, value, param, ctx):
            if self.annotation is str and type(value) is str:
                return value
            if (self.annotation == text_list and type(value) in (tuple, list)
                    and all(type(v) is str for v in value)):
                return list(value)
            real = _coercion.build_runtime_param(self.descriptor)
            param._runtime_param = real
            return real._coerce_value(value, param=param, ctx=ctx)

    def get_runtime_param(self):
        if self._runtime_param is None:
            d = self.type_descriptor
            self._runtime_param = (LeanRuntimeParam(d.parameter_info, d.annotation, d) if d.file_annotation is None
                                   else _coercion.build_runtime_param(d))
        return self._runtime_param

    parameter.get_runtime_param = get_runtime_param
    parameter._dbtool_lean = True


# ----- help and usage errors replayed ---------------------------------------------------------------


def cache_dir() -> str | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if base.startswith("~"):  # no home folder
        return None
    return os.path.join(base, "dbtool", "cli")


def cache_key(argv: list[str]) -> str | None:
    """The key of this run's output, or None when it must not be replayed."""
    if "--version" in argv or cache_dir() is None:
        return None
    try:
        cwd = os.getcwd()
    except OSError:
        return None
    h = hashlib.sha256()

    def add(*parts: object) -> None:
        h.update(repr(parts).encode("utf-8", "surrogateescape"))
        h.update(b"\0")

    add(FORMAT, sys.argv[0], argv, cwd, sys.version, sys.executable, sys.prefix, sys.flags)
    add(sorted((k, v) for k, v in os.environ.items() if k not in VOLATILE_ENV))
    for fd, stream in ((0, sys.stdin), (1, sys.stdout), (2, sys.stderr)):
        add(fd, _isatty(fd), _terminal_size(fd), getattr(stream, "encoding", None), getattr(stream, "errors", None))
    here = os.path.dirname(os.path.abspath(__file__))
    typer_dir = _package_dir("typer")
    if typer_dir is None:
        return None
    for folder in (here, typer_dir):
        add(folder, _sources(folder))
    site = os.path.dirname(typer_dir)
    add(site, sorted(n for n in os.listdir(site) if n.endswith((".dist-info", ".egg-info", ".pth"))))
    return h.hexdigest()


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _terminal_size(fd: int):
    try:
        return tuple(os.get_terminal_size(fd))
    except (OSError, ValueError):
        return None


def _package_dir(name: str) -> str | None:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        return None
    return os.path.dirname(spec.origin)


def _sources(folder: str) -> list[tuple[str, int, int]]:
    """(path, mtime_ns, size) of every Python module under folder."""
    found = []
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    if e.name != "__pycache__":
                        stack.append(e.path)
                elif e.name.endswith(".py"):
                    st = e.stat()
                    found.append((e.path, st.st_mtime_ns, st.st_size))
    return sorted(found)


def _replay(key: str) -> None:
    path = os.path.join(cache_dir(), key + ".json")
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            import json

            entry = json.load(f)
        events, code = entry["events"], entry["code"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    for fd, text in events:
        stream = sys.stdout if fd == 1 else sys.stderr
        stream.write(text)
        stream.flush()
    try:
        os.utime(path)  # recently used: kept when the oldest are removed
    except OSError:
        pass
    raise SystemExit(code)


class _Tee:
    """sys.stdout or sys.stderr, remembering what was written until a command starts."""

    def __init__(self, stream, fd: int, run: "_Run"):
        self._stream, self._fd, self._run = stream, fd, run

    def write(self, text):
        n = self._stream.write(text)
        if not self._run.ran:
            if isinstance(text, str):
                self._run.events.append((self._fd, text))
            else:
                self._run.raw = True
        return n

    def __getattr__(self, name: str):
        if name in ("buffer", "fileno", "detach", "writelines", "reconfigure"):
            self._run.raw = True  # output that may bypass write(): not kept
        return getattr(self._stream, name)


class _Run:
    def __init__(self):
        self.events: list[tuple[int, str]] = []
        self.ran = False
        self.raw = False


def _record(app, key: str) -> None:
    """Run app; keep its output under key if no command's code ran (help, or a usage error)."""
    run = _Run()
    app = _watched(app, run)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(saved[0], 1, run), _Tee(saved[1], 2, run)
    code: object = "crashed"
    try:
        app()
        code = 0
    except SystemExit as e:
        code = 0 if e.code is None else e.code
        raise
    finally:
        sys.stdout, sys.stderr = saved
        if code in (0, 2) and not run.ran and not run.raw:
            _store(key, run.events, code)


def _watched(app, run: _Run):
    """A copy of app whose command and group callbacks mark the run as having started a command;
    a group's callback does not when a subcommand follows (click calls it before parsing the
    subcommand's options)."""
    import copy

    from typer.models import DefaultPlaceholder

    import functools

    def watch(fn, group: bool):
        @functools.wraps(fn)
        def watched(*args, **kwargs):
            if not group or _invoked_subcommand() is None:
                run.ran = True
            return fn(*args, **kwargs)
        return watched

    def info_copy(info, group: bool):
        new = copy.copy(info)
        if callable(info.callback) and not isinstance(info.callback, DefaultPlaceholder):
            new.callback = watch(info.callback, group)
        return new

    def typer_copy(t):
        new = _copy_typer(t)
        new.registered_commands = [info_copy(c, False) for c in t.registered_commands]
        new.registered_groups = []
        for g in t.registered_groups:
            g2 = info_copy(g, True)
            if g.typer_instance is not None:
                g2.typer_instance = typer_copy(g.typer_instance)
            new.registered_groups.append(g2)
        if t.registered_callback is not None:
            new.registered_callback = info_copy(t.registered_callback, True)
        if callable(t.info.callback) and not isinstance(t.info.callback, DefaultPlaceholder):
            new.info = info_copy(t.info, True)
        return new

    return typer_copy(app)


def _invoked_subcommand() -> str | None:
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    return getattr(ctx, "invoked_subcommand", None)


def _store(key: str, events: list[tuple[int, str]], code: int) -> None:
    """Keep the output: readable by this user only (a usage error can echo a value given on the
    command line), written whole or not at all."""
    import json

    folder = cache_dir()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        tmp = os.path.join(folder, f".{key}.{os.getpid()}.tmp")
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8",
                  errors="surrogateescape") as f:
            json.dump({"format": FORMAT, "events": events, "code": code}, f)
        os.replace(tmp, os.path.join(folder, key + ".json"))
        _prune(folder)
    except OSError:
        pass  # a cache that cannot be written is no cache: the next run renders again


def _prune(folder: str) -> None:
    entries = [e for e in os.scandir(folder) if e.name.endswith(".json")]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns)
    for e in entries[: len(entries) // 2]:
        try:
            os.unlink(e.path)
        except OSError:
            pass
