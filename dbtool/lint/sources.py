"""SQL files as the linter sees them: text, PostgreSQL's own parse tree (pglast), and positions.

pglast wraps libpg_query, the parser of PostgreSQL itself, so a statement the rules reason about is
exactly the statement the server will run; its locations are character offsets into the file.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pglast import parser as pg_parser
from pglast import ast

from ..migrations import code_start

FORWARD = "migration"
ROLLBACK = "rollback"
REPEATABLE = "repeatable"
OTHER = "other"


@dataclass
class Stmt:
    node: ast.Node
    start: int  # offset of the first code character (after leading comments)
    end: int  # offset just past the statement (before its semicolon)
    line: int
    col: int
    end_line: int

    @property
    def kind(self) -> str:
        return type(self.node).__name__


@dataclass
class SqlFile:
    path: Path
    rel: str
    kind: str  # FORWARD, ROLLBACK, REPEATABLE or OTHER
    text: str = field(repr=False)

    @classmethod
    def read(cls, path: Path, root: Path, kind: str) -> "SqlFile":
        return cls(path=path, rel=relpath(path, root), kind=kind,
                   text=path.read_text(encoding="utf-8", errors="replace"))

    @cached_property
    def _line_starts(self) -> list[int]:
        return [0] + [m.end() for m in re.finditer("\n", self.text)]

    def pos(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        i = bisect.bisect_right(self._line_starts, offset) - 1
        return i + 1, offset - self._line_starts[i] + 1

    def line_text(self, line: int) -> str:
        starts = self._line_starts
        if not 1 <= line <= len(starts):
            return ""
        end = starts[line] if line < len(starts) else len(self.text)
        return self.text[starts[line - 1]:end].rstrip("\n")

    @cached_property
    def _parsed(self) -> tuple[list[Stmt], tuple[int, str] | None]:
        try:
            raw = pg_parser.parse_sql(self.text)
        except pg_parser.ParseError as exc:
            message, at = (exc.args + (0,))[:2]
            return [], (int(at or 0), str(message))
        out = []
        for s in raw or ():
            begin = s.stmt_location or 0
            stop = begin + s.stmt_len if s.stmt_len else len(self.text.rstrip().rstrip(";"))
            lead = code_start(self.text[begin:stop])
            start = begin + max(lead, 0)
            line, col = self.pos(start)
            out.append(Stmt(node=s.stmt, start=start, end=stop, line=line, col=col,
                            end_line=self.pos(max(stop - 1, start))[0]))
        return out, None

    @property
    def statements(self) -> list[Stmt]:
        return self._parsed[0]

    @property
    def parse_error(self) -> tuple[int, str] | None:
        """(offset, message) when PostgreSQL's parser rejects the file."""
        return self._parsed[1]

    def statement_at(self, line: int) -> Stmt | None:
        for s in self.statements:
            if s.line <= line <= s.end_line:
                return s
        return None

    def leading_comment(self) -> str:
        """The comment block before the first statement."""
        start = code_start(self.text)
        return self.text if start < 0 else self.text[:start]


def relpath(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()

