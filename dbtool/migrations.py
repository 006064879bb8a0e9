"""Migration files: discovered, ordered and split by yoyo, then checked and located by dbtool.

yoyo reads the folder, orders it by name and `-- depends:` and parses the leading directives; dbtool
splits each file into statements with PostgreSQL's own lexer (pglast; see `split`) and adds what a
DBA needs on top: content checksums, every statement's line and column (so a server error points
into the file), and refusal of a folder that cannot be applied safely (duplicate numbers, missing
or empty rollbacks, unknown dependencies), which `dbtool status` reports instead (`read(...,
problems=[])`).

A migration's leading comment block may also hold `-- dbtool-accept-checksum: <sha256> because
<reason>` lines: checksums of earlier versions of the file that every database which applied one of
them may treat as this version (docs/engine.md, "Fixing an applied migration").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pglast
from yoyo import exceptions as yoyo_exceptions
from yoyo import migrations as yoyo

from .errors import DbtoolError, UsageError

ID_RE = re.compile(r"^(\d+)_")
ACCEPT_DIRECTIVE = "dbtool-accept-checksum"
# A comment line that names the directive (any case, with or without the colon), so that a
# misspelt or misplaced one is refused instead of being read as prose.
_ACCEPT_LINE = re.compile(r"^\s*--\s*dbtool-accept-checksum", re.I)
_ACCEPT_PARTS = re.compile(r"^\s*--\s*dbtool-accept-checksum\s*:\s*(\S*)\s*(.*?)\s*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REASON = re.compile(r"^because\s+(\S.*)$")
_HEADER_LINE = re.compile(r"^(\s*|\s*--.*)$")  # yoyo's leading block: blank and -- lines


@dataclass(frozen=True)
class Statement:
    sql: str
    line: int  # 1-based line and column of the first character that is not a comment
    col: int
    offset: int  # where `sql` starts in the file, in characters


@dataclass
class Migration:
    id: str
    path: Path
    rollback_path: Path
    checksum: str
    rollback_checksum: str | None
    transactional: bool
    text: str  # what was read, checksummed and split: the engine runs and locates errors in this
    rollback_text: str
    statements: list[Statement]
    # yoyo's positional pairing: forward statement i is undone by rollback[-1 - i] (equal counts are
    # enforced where it is used, in non-transactional migrations)
    rollback: list[Statement] = field(default_factory=list)
    # `-- dbtool-accept-checksum:` lines: checksum of an earlier version of the forward file -> why
    # a database that applied that version may keep it as this one. The forward file only: the
    # ledger's rollback_checksum is never compared to refuse anything.
    accepted_checksums: dict[str, str] = field(default_factory=dict)


def find_id(ids: list[str], given: str, what: str = "migration", option: str = "--to") -> str:
    """The id `given` names: the full id or its number (0007). UsageError if none or several."""
    matches = [i for i in ids if i == given or i.split("_", 1)[0] == given]
    if given in matches:  # the full id wins over a number that happens to equal it
        return given
    if not matches:
        raise UsageError(f"{option} {given}: no such {what}",
                         hint="use an id from `dbtool status`" + (f", e.g. {ids[-1]}" if ids else ""))
    if len(matches) > 1:
        raise UsageError(f"{option} {given}: ambiguous, {len(matches)} {what}s have that number "
                         f"({', '.join(matches)})", hint="give the full id")
    return matches[0]


def checksum(text: str) -> str:
    """sha256 of the file with line endings normalised, so a CRLF checkout is not an edit."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def locate(text: str, statements: list[str]) -> list[Statement]:
    """Find each statement in the file text, in order, and the line:col of its first code."""
    out, cursor = [], 0
    for s in statements:
        start = text.find(s, cursor)
        if start < 0:  # sqlparse normalised something; fall back to the search cursor
            start = cursor
        cursor = start + len(s)
        code = start + max(code_start(s), 0)
        line = text.count("\n", 0, code) + 1
        col = code - (text.rfind("\n", 0, code) + 1) + 1
        out.append(Statement(sql=s, line=line, col=col, offset=start))
    return out


def code_start(sql: str) -> int:
    """Offset of the first character that is neither blank nor inside a -- or /* */ comment; -1 if none."""
    i = 0
    while i < len(sql):
        if sql[i].isspace():
            i += 1
        elif sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = len(sql) if nl < 0 else nl + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i)
            i = len(sql) if end < 0 else end + 2
        else:
            return i
    return -1


def position(stmt: Statement, text: str, pos: int | None) -> tuple[int, int]:
    """File line:col for a 1-based character position inside a statement (PostgreSQL's P field)."""
    if not pos:
        return stmt.line, stmt.col
    at = stmt.offset + pos - 1
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def _fail(message: str, hint: str | None = None) -> DbtoolError:
    return DbtoolError(message, hint=hint)


Report = Callable[[DbtoolError], None]


def _sink(problems: list[DbtoolError] | None) -> Report:
    """Where a problem of the folder goes: raised (migrate, rollback: refuse the folder), or, given a
    list, appended to it so that the reader carries on with what it can read (status: report)."""
    def report(problem: DbtoolError) -> None:
        if problems is None:
            raise problem
        problems.append(problem)
    return report


def _yoyo_list(folder: Path):
    # yoyo keeps every Migration it ever built in a class-level registry that it also uses to
    # resolve `-- depends:`; clear it so a folder read earlier cannot satisfy this one's dependencies.
    yoyo.Migration._Migration__all_migrations.clear()
    try:
        return yoyo.read_migrations(str(folder))
    except yoyo_exceptions.MigrationConflict as exc:
        raise _fail(f"{folder}: two migration files have the id {exc}") from None


def read(folder: Path, root: Path | None = None, problems: list[DbtoolError] | None = None) -> list[Migration]:
    """Every migration in `folder`, in apply order; a DbtoolError for a folder that is not sound.

    With `problems` (a list), each thing that makes the folder unsound (a duplicate number, a missing
    or empty rollback file, a file that does not parse...) is appended to it instead, in the order
    the strict read would meet them, and every migration file is still returned, read as far as it
    can be (`dbtool status` reports what migrate and rollback refuse). A missing folder is raised."""
    root = root or folder.parent
    if not folder.is_dir():
        raise DbtoolError(f"migrations folder {folder} does not exist", hint="run from the project root or pass --project")
    report = _sink(problems)
    _check_folder(folder, root, report)
    listed = [ym for ym in _yoyo_list(folder) if ym.path.endswith(".sql")]  # .py files: reported above
    known = {ym.id for ym in listed}
    out = [_load(ym, root, known, report) for ym in listed]
    try:
        ordered = yoyo.topological_sort(listed)
    except yoyo_exceptions.BadMigration as exc:
        report(_fail(f"{rel(folder, root)}: {exc}", hint="the `-- depends:` lines form a cycle"))
        ordered = listed  # reporting only: file name order
    by_id = {m.id: m for m in out}
    return [by_id[ym.id] for ym in ordered]


def split(text: str, path: Path, root: Path) -> list[str]:
    """The statements of a file, PostgreSQL's own lexer (pglast) deciding where each one ends: it
    knows dollar quotes, E'' strings and standard_conforming_strings, where sqlparse (yoyo's
    splitter) merges two statements after a string ending in a backslash, and is 50 times faster."""
    try:
        return [s for s in pglast.split(text, with_parser=False) if code_start(s) >= 0]
    except pglast.parser.ParseError as exc:
        at = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        line = text.count("\n", 0, at) + 1
        raise _fail(f"{rel(path, root)}:{line}: {str(exc).split(', at ')[0]}",
                    hint="an unterminated quote or comment runs to the end of the file") from None


def _check_folder(folder: Path, root: Path, report: Report) -> None:
    files = sorted(p for p in folder.iterdir() if p.is_file())
    numbers: dict[str, Path] = {}
    for p in files:
        if p.suffix == ".py":
            report(_fail(f"{rel(p, root)}: dbtool migrations are pure SQL", hint="rewrite it as a .sql file"))
            continue
        if p.suffix == ".sql" and p.name.startswith("post-apply"):
            # yoyo runs post-apply files after every migrate; dbtool does not, and skipping one in
            # silence would leave its statements unrun with nobody told.
            report(_fail(f"{rel(p, root)}: dbtool does not run yoyo's post-apply files",
                         hint="put what it does in a repeatable file under sql/ (re-applied when it changes) "
                              "or in a migration"))
            continue
        if p.suffix != ".sql":
            continue
        if p.name.endswith(".rollback.sql"):
            fwd = p.with_name(p.name[: -len(".rollback.sql")] + ".sql")
            if not fwd.exists():
                report(_fail(f"{rel(p, root)}: rollback file without a migration {fwd.name}",
                             hint="rename it to match its migration, or delete it"))
            continue
        m = ID_RE.match(p.name)
        if not m:
            report(_fail(f"{rel(p, root)}: migration file names must start with a number, like 0007_add_x.sql",
                         hint="rename the file (`dbtool new NAME` picks the next number)"))
            continue
        if m.group(1) in numbers:
            report(_fail(f"{rel(p, root)}: duplicate migration number {m.group(1)} "
                         f"(also {rel(numbers[m.group(1)], root)})",
                         hint="give one of them the next free number"))
            continue
        numbers[m.group(1)] = p


def read_text(path: Path, root: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise _fail(f"{rel(path, root)}:{line}: not UTF-8 text ({exc.reason})",
                    hint="save the file as UTF-8") from None


def _text(path: Path, root: Path, report: Report) -> str:
    try:
        return read_text(path, root)
    except DbtoolError as exc:
        report(exc)
        return path.read_bytes().decode("utf-8", errors="replace")


def _split(text: str, path: Path, root: Path, report: Report) -> list[str] | None:
    try:
        return split(text, path, root)
    except DbtoolError as exc:
        report(exc)
        return None


def _load(ym, root: Path, known: set[str], report: Report) -> Migration:
    """One migration file and its rollback file. Each problem goes to `report`, which raises (the
    strict read) or collects it; after a collected problem the file is read as far as it can be."""
    path = Path(ym.path)
    rb_path = path.with_name(path.stem + ".rollback.sql")
    text = _text(path, root, report)
    found = directives(text)
    depends = found.get("depends", "").split()
    for d in depends:
        if d not in known:
            report(_fail(f"{rel(path, root)}: depends on {d!r}, which is not in {rel(path.parent, root)}/",
                         hint="fix the `-- depends:` line or restore the missing migration"))
    transactional = transactional_flag(found.get("transactional", "true"))
    if transactional is None:
        report(_fail(f"{rel(path, root)}: `-- transactional: {found['transactional'].strip()}` is neither true "
                     "nor false"))
        transactional = True
    # What yoyo's loader would have found, so that its topological sort orders the folder without
    # splitting every file with sqlparse once more.
    registry = yoyo.Migration._Migration__all_migrations
    ym._depends = {registry[d] for d in depends if d in known and d in registry}
    ym.use_transactions, ym.steps = transactional, []
    forward = _split(text, path, root, report)
    if forward == []:
        report(_fail(f"{rel(path, root)}: the migration has no SQL statements",
                     hint="write the migration or delete the file"))
    rb_text, backward = "", []
    if not rb_path.exists():
        report(_fail(f"{rel(path, root)}: no rollback file {rb_path.name}",
                     hint="write the statements that undo this migration in that file (`dbtool new` creates the pair)"))
    accepted = accepted_checksums(text, path, root, report)
    if rb_path.exists():
        rb_text = _text(rb_path, root, report)
        for a in accept_lines(rb_text):
            report(_fail(f"{rel(rb_path, root)}:{a.line}: `-- {ACCEPT_DIRECTIVE}:` belongs in {path.name}, not in "
                         "its rollback file",
                         hint="it accepts old checksums of the migration file; the rollback file's checksum never "
                              "stops a run"))
        backward = _split(rb_text, rb_path, root, report)
        if backward == []:
            report(_fail(f"{rel(rb_path, root)}: the rollback file has no SQL statements",
                         hint="write the statements that undo the migration"))
        if not transactional and forward is not None and backward is not None and len(forward) != len(backward):
            report(_fail(f"{rel(path, root)}: a `transactional: false` migration needs one rollback statement per "
                         f"statement ({len(forward)} here, {len(backward)} in {rb_path.name})",
                         hint="dbtool undoes a failed statement's predecessors with their paired rollback "
                              "statements, last first: write them in reverse order, one each"))
    return Migration(
        id=ym.id, path=path, rollback_path=rb_path, checksum=checksum(text),
        rollback_checksum=checksum(rb_text) if rb_path.exists() else None,
        transactional=transactional, text=text, rollback_text=rb_text,
        statements=locate(text, forward or []), rollback=locate(rb_text, backward or []),
        accepted_checksums=accepted,
    )


def directives(text: str) -> dict[str, str]:
    """The `-- depends:` / `-- transactional:` lines at the top of a migration, as yoyo reads them."""
    return yoyo.parse_metadata_from_sql_comments(text)[0]


@dataclass(frozen=True)
class AcceptLine:
    """One `-- dbtool-accept-checksum:` line: its checksum and reason, or what is wrong with it."""
    line: int  # 1-based
    checksum: str | None
    reason: str | None
    problem: str | None  # None when the line is well-formed and where dbtool reads it


def accept_lines(text: str) -> list[AcceptLine]:
    """Every comment line naming the accept-checksum directive, checked: well-formed (64 lowercase
    hex digits, then `because <reason>`), in the leading comment block (where yoyo reads
    `-- depends:`; the block ends at the first line that is neither blank nor a -- comment), and
    not a checksum listed twice. The linter reports the problems; `read` refuses the first."""
    out, seen, in_header = [], {}, True
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip("\r")
        in_header = in_header and bool(_HEADER_LINE.match(line))
        if not _ACCEPT_LINE.match(line):
            continue
        problem, checksum_, reason = _accept_parts(line)
        if problem is None and not in_header:
            problem = (f"`-- {ACCEPT_DIRECTIVE}:` below the leading comment block is not read: dbtool reads it "
                       "only in the -- comment lines before the first statement, as yoyo reads `-- depends:`")
        elif problem is None and checksum_ in seen:
            problem = f"checksum {checksum_[:12]} is already accepted on line {seen[checksum_]}"
        elif problem is None:
            seen[checksum_] = n
        out.append(AcceptLine(n, checksum_, reason, problem))
    return out


def is_accept_line(line: str) -> bool:
    """A comment line naming the accept-checksum directive, well-formed or not."""
    return bool(_ACCEPT_LINE.match(line))


def _accept_parts(line: str) -> tuple[str | None, str | None, str | None]:
    """(problem, checksum, reason) of one directive line."""
    form = f"write `-- {ACCEPT_DIRECTIVE}: <sha256 of the old file> because <reason>`"
    parts = _ACCEPT_PARTS.match(line)
    if not parts:
        return f"malformed `-- {ACCEPT_DIRECTIVE}:` line: {form}", None, None
    value, rest = parts.groups()
    if not _SHA256.match(value):
        shown = repr(value[:24] + ("..." if len(value) > 24 else "")) if value else "nothing"
        return (f"malformed `-- {ACCEPT_DIRECTIVE}:` line: {shown} is not a sha256 checksum (64 lowercase hex "
                f"digits); {form}"), None, None
    reason = _REASON.match(rest)
    if not reason:
        return (f"`-- {ACCEPT_DIRECTIVE}: {value[:12]}...` gives no reason: add `because <why the edit changes "
                "nothing for the databases that applied the old file>`"), None, None
    return None, value, reason.group(1)


def accepted_checksums(text: str, path: Path, root: Path, report: Report | None = None) -> dict[str, str]:
    """The file's accepted old checksums (checksum -> reason); a DbtoolError at file:line for a bad line
    (or, with `report`, each bad line reported there and left out)."""
    report = report or _sink(None)
    out = {}
    for a in accept_lines(text):
        if a.problem:
            report(_fail(f"{rel(path, root)}:{a.line}: {a.problem}",
                         hint="see docs/engine.md, \"Fixing an applied migration\"; `dbtool status` shows the "
                              "checksum a database recorded"))
            continue
        out[a.checksum] = a.reason
    return out


def transactional_flag(value: str) -> bool | None:
    """`-- transactional:` as migrate reads it: True, False, or None for anything else (refused)."""
    return {"true": True, "false": False}.get(value.strip().lower())
