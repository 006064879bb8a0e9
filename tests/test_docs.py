"""The documentation says what the code does: every command `dbtool --help` lists is in README's
command table and in the page that table links for it, and docs/engine.md names the tools the
engine really uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from dbtool.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def cli_commands(group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command a user can run, as words: ("migrate",), ("backup",), ("backup", "list"), ...
    A group counts when it runs on its own (`dbtool backup`), not when it only holds commands."""
    found = []
    for name, cmd in sorted(group.commands.items()):
        if cmd.hidden:
            continue
        path = (*prefix, name)
        if getattr(cmd, "commands", None) is not None:  # a group (Typer's own click: no isinstance)
            if cmd.invoke_without_command:
                found.append(path)
            found += cli_commands(cmd, path)
        else:
            found.append(path)
    return found


def named_in(span: str) -> list[tuple[str, ...]]:
    """The commands a code span of the table names: `dbtool dev up \\| down`, `tenant key add\\|list`,
    `repair --accept ID`: the words before the first option or placeholder, alternatives expanded."""
    words = span.replace("\\|", "|").split()
    if words and words[0] == "dbtool":
        words = words[1:]
    kept = []
    for w in words:
        if w.startswith(("-", "[")) or w.isupper():
            break
        kept.append(w)
    pieces = [p.split() for p in " ".join(kept).split("|")]
    if not pieces or not pieces[0]:
        return []
    prefix = pieces[0][:-1]
    return [tuple(prefix + [p[0]]) for p in [pieces[0][-1:], *pieces[1:]] if p]


def readme_table() -> dict[tuple[str, ...], str]:
    """command words -> the page README's command table links for it (README itself for an anchor)."""
    section = README.read_text().split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    table = {}
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        link = re.search(r"\]\(([^)]+)\)", cells[-1])
        assert link, f"README's command table links no page for: {cells[0].strip()}"
        page = link.group(1).split("#", 1)[0] or "README.md"
        for span in re.findall(r"`([^`]+)`", cells[0]):
            for words in named_in(span):
                table[words] = page
    return table


COMMANDS = cli_commands(typer.main.get_command(app))


def test_the_walk_finds_commands_and_subcommands():
    assert {("migrate",), ("status",), ("backup",), ("backup", "prune"), ("tenant", "key", "retire"),
            ("dev", "destroy"), ("check", "rls")} <= set(COMMANDS)
    assert ("dev",) not in COMMANDS and ("tenant",) not in COMMANDS


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_every_command_is_in_readmes_table_and_in_the_page_it_links(words):
    table = readme_table()
    name = " ".join(words)
    assert words in table, f"`dbtool {name}` is missing from README's command table"
    page = (ROOT / table[words]).read_text()
    mentioned = re.compile(rf"(?:dbtool |`){re.escape(name)}(?![\w-])")
    assert mentioned.search(page), f"{table[words]}, which README links for `dbtool {name}`, does not mention it"


def test_engine_docs_name_the_splitter_and_the_lock_the_code_uses():
    engine = (ROOT / "docs/engine.md").read_text()
    assert "statements with sqlparse" not in engine and "statements with PostgreSQL's own lexer (pglast" in engine
    assert "pg_try_advisory_lock" in engine
    assert "pg_advisory_lock`)" not in engine  # what it said: the blocking call dbtool avoids


def test_the_exit_codes_table_in_help_and_readme_agree_on_a_cancelled_prompt():
    from dbtool.cli import EXIT_CODES
    assert "\"no\" at a confirmation prompt" in EXIT_CODES
    assert "cancelled" in README.read_text().split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
