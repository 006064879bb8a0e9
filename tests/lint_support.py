"""What the tests of `dbtool lint` (tests/test_lint.py) and of each rule (tests/lint_rules/) share: a
scratch project with the repository's lint configuration, migrations with a header, and findings
as (rule, path, line)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "-- Test migration.\n--\n-- Why: a test needs it.\n"


def lint_project(tmp_project):
    """tmp_project with the repository's .sqlfluff and [tool.dbtool.lint] (large_tables, owner role)."""
    shutil.copy(ROOT / "pyproject.toml", tmp_project.path / "pyproject.toml")
    shutil.copy(ROOT / ".sqlfluff", tmp_project.path / ".sqlfluff")
    return tmp_project


def pair(proj, mid: str, forward: str, rollback: str = "DROP TABLE IF EXISTS public.nothing;\n") -> None:
    proj.pair(mid, HEADER + textwrap.dedent(forward).lstrip(), HEADER + textwrap.dedent(rollback).lstrip())


def hits(report, layer: str | None = None) -> set[tuple[str, str, int]]:
    return {(f.rule, f.path, f.line) for f in report.findings if layer is None or f.layer == layer}


def base_tables(proj) -> None:
    pair(proj, "0001_create_deals", """
        CREATE TABLE public.deals (id bigint PRIMARY KEY, name text NOT NULL);
        CREATE INDEX deals_name_idx ON public.deals (name);
        ALTER TABLE public.deals ADD COLUMN stage text NOT NULL;
        """, "DROP TABLE public.deals;\n")


def suppressed_index(proj, comment: str) -> None:
    """A migration whose index build squawk flags, with `comment` (a suppression) above it."""
    base_tables(proj)
    pair(proj, "0002_add_deal_stage_index", f"{comment}\nCREATE INDEX deals_stage_idx ON public.deals (stage);\n",
         "DROP INDEX public.deals_stage_idx;\n")


def large_and_small(proj) -> None:
    """public.deals is in the repository's large_tables, public.small is not."""
    pair(proj, "0001_create_deals", """
        CREATE TABLE public.deals (id bigint PRIMARY KEY, name text, region text);
        CREATE TABLE public.small (id bigint PRIMARY KEY, name text, region text);
        """, "DROP TABLE public.small;\nDROP TABLE public.deals;\n")


# A well-formed accept-checksum line (migration-accept-checksum), longer than any line sqlfluff allows.
ACCEPT = "-- dbtool-accept-checksum: " + "ab" * 32 + " because only a branch that failed everywhere it ran changed\n"
