"""The tests of dbtool's own lint rules, one file a rule (tests/lint_rules/test_<rule module>.py)."""

from __future__ import annotations

import pytest

from lint_support import lint_project


@pytest.fixture
def proj(tmp_project):
    return lint_project(tmp_project)
