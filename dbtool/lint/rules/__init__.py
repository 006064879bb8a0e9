"""dbtool's own rules: the project's conventions that no general-purpose SQL linter knows.

One module a rule, named after its id (`migration-number` -> migration_number.py), holding its
`RULE` (id, severity, summary, hint) and its checker `check`; each rule also has a page
docs/rules/<id>.md and a test file tests/lint_rules/test_<module>.py (docs/lint.md, "Adding a
rule"). Statements are read with PostgreSQL's own parser (see ../sources.py), never with regular
expressions over SQL, except for the file-name rules.
"""

from __future__ import annotations

from ..files import Workspace
from ..model import Finding
from ..settings import LintConfig
from . import (function_search_path, large_table_rewrite, migration_accept_checksum, migration_header,
               migration_name, migration_number, migration_recreates, migration_rollback, owner_role,
               repeatable_name, repeatable_object, schema_qualified, suppression_reason, suppression_unused,
               syntax_error, tenant_table_rls)

# How each rule reads the project. Rules about one file at a time read only the selected files
# (parsing a file costs about 2 ms, walking its tree for names more); the rules that span files
# (numbers, rollback pairs, objects created earlier) read the whole project. large-table-rewrite
# reads the selected files and every migration before them; owner-role finds the roles migration
# in the whole project and reads only the selected files after it. The suppression rules are
# checked where the suppressions are applied (../suppress.py), after every layer.
PER_FILE = [syntax_error, migration_header, migration_accept_checksum, tenant_table_rls, repeatable_name,
            repeatable_object, function_search_path, schema_qualified]
WHOLE_PROJECT = [migration_name, migration_number, migration_rollback, migration_recreates]
BY_SUPPRESS = [suppression_reason, suppression_unused]

MODULES = [*PER_FILE, large_table_rewrite, *WHOLE_PROJECT, owner_role, *BY_SUPPRESS]
RULES = {m.RULE.id: m.RULE for m in MODULES}


def check(ws: Workspace, cfg: LintConfig, selected: set[str]) -> list[Finding]:
    """The rules' findings in the `selected` files."""
    narrow = ws.only(selected)
    out = []
    for m in PER_FILE:
        out += [f for f in m.check(narrow, cfg) if cfg.active(f.rule)]
    out += [f for f in large_table_rewrite.check(narrow, cfg, ws.forward) if cfg.active(f.rule)]
    for m in WHOLE_PROJECT:
        out += [f for f in m.check(ws, cfg) if f.path in selected and cfg.active(f.rule)]
    out += [f for f in owner_role.check(ws, cfg, selected) if f.path in selected and cfg.active(f.rule)]
    return out
