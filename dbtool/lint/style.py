"""Layer 1, style and parse: sqlfluff (dialect postgres) with the project's committed .sqlfluff.

Two settings are forced whatever the project's config says, because getting them wrong is silent:
the dialect (dbtool is PostgreSQL only) and large_file_skip_byte_limit = 0 (otherwise sqlfluff
skips files over 20 KB and reports them clean). sqlfluff does not look inside $$ bodies; the
bodies layer checks PL/pgSQL against the migrated schema instead.
"""

from __future__ import annotations

from .. import migrations
from .files import Workspace
from .model import ERROR, WARNING, Finding

FORCED = {"dialect": "postgres", "large_file_skip_byte_limit": 0}
PARSE_CODES = {"PRS", "TMP", "LXR"}
LINE_LENGTH = "LT05"


def check(ws: Workspace, selected: set[str]) -> list[Finding]:
    from sqlfluff.core import FluffConfig, Linter  # imported here: it takes ~0.5 s to load

    paths = tuple(str(ws.root / rel) for rel in sorted(selected) if rel.endswith(".sql"))
    if not paths:
        return []
    config = FluffConfig.from_path(str(ws.root), overrides=dict(FORCED))
    result = Linter(config=config).lint_paths(paths, processes=None)
    by_abs = {str(ws.root / rel): rel for rel in selected}
    by_rel = {f.rel: f for f in ws.files}
    out = []
    for record in result.as_records():
        rel = by_abs.get(record["filepath"], record["filepath"])
        for v in record["violations"]:
            if v["code"] == LINE_LENGTH and rel in by_rel and \
                    migrations.is_accept_line(by_rel[rel].line_text(v["start_line_no"])):
                continue  # a sha256 and its reason must share the line: it cannot be wrapped
            out.append(_finding(rel, v))
    return out


def _finding(rel: str, v: dict) -> Finding:
    code = v["code"]
    parse = code in PARSE_CODES
    name = v.get("name") or code
    hint = ("sqlfluff cannot parse this: check the SQL, or simplify it" if parse else
            f"sqlfluff rule {name}" + ("; `sqlfluff fix` can repair it" if v.get("fixes") else ""))
    return Finding(rel, v["start_line_no"], v["start_line_pos"], ERROR if parse else WARNING,
                   f"sqlfluff/{code}", v["description"], hint=hint, layer="style")
