"""The ER diagram of a documented schema: Graphviz DOT (rendered to SVG and PNG by `dot`) and
Mermaid (rendered by the forges that show the Markdown).

Both show foreign keys as edges labelled with their columns (one edge per pair of tables) and
where each table stands at the tenant boundary. The Graphviz picture is the overview a README shows:
a box per table coloured by its boundary, clusters per schema with the private ones drawn apart,
the views that read the tables; Mermaid adds the key columns (every column is on the pages).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass

from .model import (EXPOSED, FILTERED, ISOLATED, PARTIAL, PRIVATE, SHARED, ForeignKey, Relation, Schema,
                    column_list)

FONT = "DejaVu Sans"  # installed with Graphviz by scripts/install-postgres.sh: same pictures everywhere

# header colour, body colour, the header's second line
STYLE = {
    ISOLATED: ("#2e7d32", "#edf7ee", "RLS forced"),
    PARTIAL: ("#b26a00", "#fff4e0", "RLS, not forced"),
    PRIVATE: ("#546e7a", "#eef2f4", "private"),
    FILTERED: ("#00695c", "#e6f4f2", "view, tenant-filtered"),
    SHARED: ("#8d8d8d", "#f5f5f5", "shared"),
    EXPOSED: ("#c62828", "#fdecea", "tenant data, no RLS"),
}
LEGEND = [(ISOLATED, "tenant-isolated: row-level security enabled and forced, with a policy"),
          (PARTIAL, "row-level security, not forced (the owner bypasses it)"),
          (FILTERED, "view that filters on the verified tenant"),
          (PRIVATE, "private schema: no tenant-facing role may use it"),
          (SHARED, "not tenant data (no tenant column)"),
          (EXPOSED, "tenant column but no row-level security")]


def short_type(t: str) -> str:
    """Column types as a DBA writes them: timestamptz, varchar(255)."""
    for long, short in (("timestamp with time zone", "timestamptz"), ("timestamp without time zone", "timestamp"),
                        ("character varying", "varchar"), ("double precision", "float8"),
                        ("time with time zone", "timetz")):
        t = t.replace(long, short)
    return t


@dataclass(frozen=True)
class Edge:
    child: str
    parent: str
    labels: tuple[str, ...]  # one per foreign key: its own columns
    nullable: bool  # some foreign key of the pair may be NULL (zero or one parent)
    unique: bool  # every foreign key of the pair is unique in the child (one child per parent)


def edges(model: Schema, fold: bool = False) -> list[Edge]:
    """One edge per (child, parent) pair of tables, every foreign key of the pair in its label.
    fold: leave out the plain tenant keys (tenant column -> the tenant table), which every tenant
    table has: drawn, they bury the picture in edges that all say the same (the legend says it)."""
    pairs: dict[tuple[str, str], list[ForeignKey]] = defaultdict(list)
    for rel in model.tables():
        for fk in rel.references:
            if fk.ref_table in model.relations and not (fold and tenant_key(fk, model)):
                pairs[(fk.table, fk.ref_table)].append(fk)
    out = []
    for (child, parent), fks in sorted(pairs.items()):
        rel = model.relations[child]
        out.append(Edge(child, parent, tuple(fk_label(fk, model) for fk in fks),
                        any(not rel.columns.get(c, {}).get("not_null") for fk in fks for c in fk.columns),
                        all(_unique(rel, fk.columns) for fk in fks)))
    return out


def tenant_key(fk: ForeignKey, model: Schema) -> bool:
    """The plain key to the tenant table: (<tenant_column>) REFERENCES <tenant_table> ([tool.dbtool.rls])."""
    return fk.columns == (model.settings["tenant_column"],) and fk.ref_table == model.settings["tenant_table"]


def fk_label(fk: ForeignKey, model: Schema) -> str:
    """The foreign key's own columns; the tenant column of a composite key is implied (the legend
    says so) unless it is the only one."""
    column = model.settings["tenant_column"]
    own = [c for c in fk.columns if c != column] or list(fk.columns)
    return ", ".join(own)


def _unique(rel: Relation, columns: tuple[str, ...]) -> bool:
    return any(a.get("type") in ("primary key", "unique") and set(column_list(a["definition"])) == set(columns)
               for a in rel.constraints.values())


def in_diagram(model: Schema) -> list[Relation]:
    """Tables, and the views that read a relation of the schema (views of the server's statistics
    have their pages but would be islands here)."""
    return [r for r in model.relations.values() if r.is_table or r.reads]


# ----- Graphviz ---------------------------------------------------------------------------------

def dot_source(model: Schema) -> str:
    """The overview: one box per table (and per view that reads one), coloured by its place at the
    tenant boundary, in a cluster per schema; foreign keys as labelled edges. Columns are left to
    the pages: with them the picture no longer reads at the width a README shows it."""
    rels = in_diagram(model)
    by_schema: dict[str, list[Relation]] = defaultdict(list)
    for r in rels:
        by_schema[r.schema].append(r)
    lines = ["digraph schema {",
             f'  graph [rankdir=LR, fontname="{FONT}", fontsize=12, nodesep=0.14, ranksep=0.3, pad=0.15, '
             'newrank=true, bgcolor="white", labelloc=b, labeljust=l];',
             f'  node [shape=plain, fontname="{FONT}", fontsize=11];',
             f'  edge [fontname="{FONT}", fontsize=10, color="#78909c", fontcolor="#37474f", arrowsize=0.6];']
    for schema in sorted(by_schema):
        lines += _cluster(schema, by_schema[schema], model)
    lines += [_edge(e) for e in edges(model, fold=True)]
    shown = {r.name for r in rels}
    for r in rels:
        for target in (t for t in r.reads if t in shown):
            lines.append(f'  {_id(r.name)} -> {_id(target)} [style=dashed, color="#9e9e9e", arrowhead=vee];')
    lines.append(f"  label=<{_legend(model)}>;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _edge(e: Edge) -> str:
    # crow's foot: the child end many (crow) or one (tee), zero allowed; the parent end exactly
    # one (tee tee), or zero or one (odot tee) when the foreign key may be NULL
    tail = "teeodot" if e.unique else "crowodot"
    head = "teeodot" if e.nullable else "teetee"
    label = "<BR/>".join(_esc(x) for x in e.labels)
    return (f'  {_id(e.child)} -> {_id(e.parent)} [dir=both, arrowtail={tail}, arrowhead={head}, '
            f'label=<{label}>];')


def _cluster(schema: str, rels: list[Relation], model: Schema) -> list[str]:
    private = model.private(schema)
    label = f"schema {schema}" + ("  (private)" if private else "")
    style = 'style="rounded,dashed", color="#78909c", bgcolor="#f4f6f7"' if private else \
        'style="rounded", color="#b0bec5", bgcolor="#fcfcfc"'
    out = [f'  subgraph "cluster_{schema}" {{', f'    graph [label=<<B>{_esc(label)}</B>>, {style}, fontsize=12];']
    out += [f"    {_id(r.name)} [label=<{_node(r, model)}>];" for r in rels]
    out.append("  }")
    return out


def _node(rel: Relation, model: Schema) -> str:
    head, body, note = STYLE[rel.boundary.kind]
    if not rel.is_table and rel.boundary.kind != FILTERED:
        note = f"{rel.kind}, {note}"
    folded = sum(tenant_key(fk, model) for fk in rel.referenced_by)
    if folded:
        note += f"; tenant of {folded} tables"
    border = ' STYLE="dashed"' if not rel.is_table else ""
    name = rel.name.split(".", 1)[1]
    return (f'<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" COLOR="{head}"{border}>'
            f'<TR><TD BGCOLOR="{head}"><FONT COLOR="white"><B>{_esc(name)}</B></FONT></TD></TR>'
            f'<TR><TD BGCOLOR="{body}"><FONT POINT-SIZE="8" COLOR="#455a64">{_esc(note)}</FONT></TD></TR></TABLE>')


def _legend(model: Schema) -> str:
    used = {r.boundary.kind for r in in_diagram(model)}
    rows = []
    for kind, text in LEGEND:
        if kind in used:
            rows.append(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{STYLE[kind][0]}">\u25a0</FONT> {_small(text)}</TD></TR>')
    s = model.settings
    folded = sorted({fk.table for r in model.tables() for fk in r.references if tenant_key(fk, model)})
    notes = ["edge: foreign key, labelled with its columns; crow's foot: many rows, o: may be NULL",
             "dashed: a view, and what it reads"]
    if folded:
        notes.insert(1, f"{s['tenant_column']} of a composite key is implied (both rows are of one tenant); "
                        f"the {len(folded)} tables with {s['tenant_column']} -> {s['tenant_table']}: not drawn")
    rows += [f'<TR><TD ALIGN="LEFT">{_small(n)}</TD></TR>' for n in notes]
    return '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">' + "".join(rows) + "</TABLE>"


def _small(text: str) -> str:
    return f'<FONT POINT-SIZE="9">{_esc(text)}</FONT>'


def _id(name: str) -> str:
    return '"' + name.replace('"', '\\"') + '"'


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def dot_binary() -> str | None:
    return shutil.which("dot")


def dot_version(dot: str) -> str:
    """`dot - graphviz version 2.43.0 (0)` -> `2.43.0 (0)`, as it writes into its SVG files."""
    res = subprocess.run([dot, "-V"], capture_output=True, text=True, check=False)
    m = re.search(r"version (.+)$", (res.stderr or res.stdout).strip())
    return m.group(1).strip() if m else "unknown"


def render(dot: str, source: str, fmt: str) -> bytes:
    """Run Graphviz: `source` to SVG or PNG."""
    res = subprocess.run([dot, f"-T{fmt}"], input=source.encode(), capture_output=True, check=False)
    if res.returncode != 0:
        from ..errors import DbtoolError

        raise DbtoolError(f"dot -T{fmt} failed: {res.stderr.decode(errors='replace').strip().splitlines()[-1:]}",
                          hint="check the Graphviz installation (scripts/install-postgres.sh installs it)")
    return res.stdout


# ----- Mermaid ----------------------------------------------------------------------------------

def mermaid(model: Schema, focus: str | None = None) -> str:
    """An erDiagram of the tables with their key columns and the foreign keys between them
    (focus: only the foreign keys of that table)."""
    lines = ["erDiagram"]
    for rel in model.tables():
        _, _, note = STYLE[rel.boundary.kind]
        lines.append(f'    {_mid(rel.name)}["{rel.name} ({_mnote(rel)})"] {{')
        pk, fks = set(rel.primary_key()), {c for fk in rel.references for c in fk.columns}
        for col in rel.key_columns():
            keys = ", ".join(k for k, on in (("PK", col in pk), ("FK", col in fks)) if on)
            lines.append(f"        {_mtype(rel.columns[col]['type'])} {_mword(col)} {keys}")
        lines.append("    }")
    for e in edges(model):
        if focus and focus not in (e.child, e.parent):
            continue
        parent = "|o" if e.nullable else "||"
        child = "o|" if e.unique else "o{"
        lines.append(f'    {_mid(e.parent)} {parent}--{child} {_mid(e.child)} : "{", ".join(e.labels)}"')
    return "\n".join(lines) + "\n"


def _mnote(rel: Relation) -> str:
    return {ISOLATED: "RLS forced", PARTIAL: "RLS not forced", PRIVATE: "private", SHARED: "shared",
            EXPOSED: "no RLS", FILTERED: "filtered"}[rel.boundary.kind]


def _mid(name: str) -> str:
    """Mermaid entity ids are words: schema__name (the entity's label shows the real name)."""
    return _mword(name.replace(".", "__"))


def _mword(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _mtype(t: str) -> str:
    """Mermaid attribute types allow letters, digits, _ - ( ) [ ]: no spaces, no commas."""
    t = re.sub(r"\([^)]*,[^)]*\)", "", short_type(t))
    return re.sub(r"[^A-Za-z0-9_()\[\]-]", "_", t)
