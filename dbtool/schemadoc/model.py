"""What `dbtool docs` documents, read from a catalog snapshot (dbtool/catalog): one Relation per
table, view, materialized view and continuous aggregate, with its columns, constraints, indexes,
triggers, policies, grants, foreign keys both ways, TimescaleDB settings and jobs, pg_cron jobs,
and where it stands at the tenant boundary.

Everything comes from the snapshot, which is sorted and free of OIDs and timestamps: the same
schema gives the same documents, so they can be committed and compared."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Where a relation stands at the tenant boundary (Boundary.kind).
ISOLATED = "isolated"      # row-level security enabled and forced, with a policy
PARTIAL = "partial"        # row-level security, but not forced or without a policy
PRIVATE = "private"        # in a private schema: no tenant-facing role may use it
FILTERED = "filtered"      # a view that filters on the tenant context itself
SHARED = "shared"          # no tenant column: the same rows for everyone who may read it
EXPOSED = "exposed"        # has the tenant column but nothing keeps tenants apart

# [tool.dbtool.rls] settings the documents read (the same section `dbtool check rls` reads).
RLS_DEFAULTS = {"tenant_column": "tenant_id", "tenant_table": None, "private_schemas": [], "context_function": None,
                "app_roles": []}


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    definition: str


@dataclass(frozen=True)
class Boundary:
    kind: str
    text: str  # one sentence: how (or whether) the relation keeps tenants apart


@dataclass
class Relation:
    name: str  # schema.name, as the snapshot names it
    kind: str  # table, partitioned table, foreign table, view, materialized view, continuous aggregate
    attrs: dict
    columns: dict[str, dict] = field(default_factory=dict)  # in position order
    constraints: dict[str, dict] = field(default_factory=dict)
    indexes: dict[str, dict] = field(default_factory=dict)
    triggers: dict[str, dict] = field(default_factory=dict)
    policies: dict[str, dict] = field(default_factory=dict)
    references: list[ForeignKey] = field(default_factory=list)
    referenced_by: list[ForeignKey] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # views: the relations their definition names
    read_by: list[str] = field(default_factory=list)
    hypertable: dict | None = None
    citus: dict | None = None  # how Citus distributes the table (kind citus_table)
    timescale_jobs: dict[str, dict] = field(default_factory=dict)
    cron_jobs: dict[str, dict] = field(default_factory=dict)
    boundary: Boundary = Boundary(SHARED, "")

    @property
    def schema(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def is_table(self) -> bool:
        return self.kind.endswith("table")

    @property
    def comment(self) -> str | None:
        return self.attrs.get("comment")

    def key_columns(self) -> list[str]:
        """Primary-key columns, then foreign-key columns, in column order."""
        keys = set(self.primary_key()) | {c for fk in self.references for c in fk.columns}
        return [c for c in self.columns if c in keys]

    def primary_key(self) -> list[str]:
        for attrs in self.constraints.values():
            if attrs.get("type") == "primary key":
                return column_list(attrs["definition"])
        return []


@dataclass
class Schema:
    relations: dict[str, Relation]  # sorted by name
    schemas: dict[str, dict]
    settings: dict  # [tool.dbtool.rls] with defaults
    version: str | None
    edition: str | None

    def tables(self) -> list[Relation]:
        return [r for r in self.relations.values() if r.is_table]

    def views(self) -> list[Relation]:
        return [r for r in self.relations.values() if not r.is_table]

    def private(self, schema: str) -> bool:
        return schema in self.settings["private_schemas"]


def build(snap: dict, rls_settings: dict | None = None, version: str | None = None,
          edition: str | None = None) -> Schema:
    """The documented model of snapshot `snap` ({kind: {name: attrs}}, as dbtool.catalog gives it)."""
    settings = {**RLS_DEFAULTS, **(rls_settings or {})}
    rels = _relations(snap)
    _attach(rels, snap)
    _link_foreign_keys(rels)
    _link_views(rels)
    _attach_jobs(rels, snap)
    model = Schema(dict(sorted(rels.items())), snap.get("schema", {}), settings, version, edition)
    for rel in model.relations.values():
        rel.boundary = boundary(rel, model)
    return model


def _relations(snap: dict) -> dict[str, Relation]:
    rels = {name: Relation(name, a.get("kind", "table"), a) for name, a in snap.get("table", {}).items()}
    rels.update({name: Relation(name, a.get("kind", "view"), a) for name, a in snap.get("view", {}).items()})
    rels.update({name: Relation(name, "continuous aggregate", a)
                 for name, a in snap.get("continuous_aggregate", {}).items()})
    return rels


def _attach(rels: dict[str, Relation], snap: dict) -> None:
    """Columns, constraints, policies and triggers are named relation.thing; indexes name their table."""
    for kind in ("column", "view_column"):
        for name, attrs in sorted(snap.get(kind, {}).items(), key=lambda kv: kv[1].get("position", 0)):
            rel, _, col = name.rpartition(".")
            if rel in rels:
                rels[rel].columns[col] = attrs
    for kind, slot in (("constraint", "constraints"), ("policy", "policies"), ("trigger", "triggers")):
        for name, attrs in snap.get(kind, {}).items():
            rel, _, short = name.rpartition(".")
            if rel in rels:
                getattr(rels[rel], slot)[short] = attrs
    for name, attrs in snap.get("index", {}).items():
        if attrs.get("table") in rels:
            rels[attrs["table"]].indexes[name] = attrs
    for name, attrs in snap.get("hypertable", {}).items():
        if name in rels:
            rels[name].hypertable = attrs
    for name, attrs in snap.get("citus_table", {}).items():
        if name in rels:
            rels[name].citus = attrs


_FK = re.compile(r'FOREIGN KEY \((?P<cols>[^)]*)\) REFERENCES (?P<ref>.+?)\((?P<refcols>[^)]*)\)')


def column_list(definition: str) -> list[str]:
    """The column names of `PRIMARY KEY (a, "b c")` or `UNIQUE (a)`."""
    inner = definition[definition.index("(") + 1:definition.index(")")] if "(" in definition else ""
    return [_unquote(c) for c in inner.split(",") if c.strip()]


def _unquote(ident: str) -> str:
    ident = ident.strip()
    return ident[1:-1].replace('""', '"') if ident.startswith('"') and ident.endswith('"') else ident


def _link_foreign_keys(rels: dict[str, Relation]) -> None:
    for rel in rels.values():
        for short, attrs in sorted(rel.constraints.items()):
            m = _FK.match(attrs.get("definition", "")) if attrs.get("type") == "foreign key" else None
            if not m:
                continue
            ref = ".".join(_unquote(p) for p in m["ref"].split("."))
            fk = ForeignKey(short, rel.name, tuple(_unquote(c) for c in m["cols"].split(",")), ref,
                            tuple(_unquote(c) for c in m["refcols"].split(",")), attrs["definition"])
            rel.references.append(fk)
            if ref in rels:
                rels[ref].referenced_by.append(fk)
    for rel in rels.values():
        rel.referenced_by.sort(key=lambda fk: (fk.table, fk.name))


def _link_views(rels: dict[str, Relation]) -> None:
    """A view reads the relations its definition names (the catalog qualifies every name)."""
    for rel in rels.values():
        text = rel.attrs.get("definition") if not rel.is_table else None
        if not text:
            continue
        rel.reads = [n for n in rels if n != rel.name and _names(text, n)]
        for n in rel.reads:
            rels[n].read_by.append(rel.name)


def _names(text: str, name: str) -> bool:
    return re.search(r"(?<![\w.])" + re.escape(name) + r"(?![\w])", text) is not None


def _attach_jobs(rels: dict[str, Relation], snap: dict) -> None:
    """TimescaleDB jobs name what they act on; a pg_cron job applies to the relations its command
    names, directly or in the body of a function it calls."""
    for name, attrs in snap.get("timescale_job", {}).items():
        target = name.rsplit(" on ", 1)[1] if " on " in name else None
        if target in rels:
            rels[target].timescale_jobs[name] = attrs
    bodies = {n.split("(", 1)[0]: a.get("body", "") for n, a in snap.get("function", {}).items()}
    for job, attrs in snap.get("cron_job", {}).items():
        text = attrs.get("command", "")
        called = [body for fn, body in bodies.items() if _names(text, fn)]
        for rel in rels.values():
            if _names(text, rel.name) or any(_names(body, rel.name) or _bare(body, rel) for body in called):
                rel.cron_jobs[job] = attrs


def _bare(body: str, rel: Relation) -> bool:
    """A function body may name a table of its search_path unqualified (`FROM orders`)."""
    return rel.schema == "public" and re.search(r"(?i)\b(FROM|INTO|UPDATE|TABLE|JOIN)\s+" + re.escape(
        rel.name.split(".", 1)[1]) + r"\b", body) is not None


def boundary(rel: Relation, model: Schema) -> Boundary:
    """How `rel` keeps tenants apart, in one sentence."""
    s = model.settings
    column = s["tenant_column"]
    if model.private(rel.schema):
        return Boundary(PRIVATE, f"private schema `{rel.schema}`: no tenant-facing role may use it; {_via(rel)}")
    if rel.is_table and rel.attrs.get("rls_enabled"):
        names = ", ".join(f"`{p}`" for p in rel.policies) or "none (every row hidden)"
        if rel.attrs.get("rls_forced") and rel.policies:
            return Boundary(ISOLATED, f"row-level security enabled and forced (the owner too); policy {names}")
        forced = "forced" if rel.attrs.get("rls_forced") else "not forced: the owner bypasses it"
        return Boundary(PARTIAL, f"row-level security enabled, {forced}; policy {names}")
    context = (s.get("context_function") or "").split("(", 1)[0]
    if not rel.is_table and context and _names(rel.attrs.get("definition", ""), context):
        barrier = "security_barrier" in " ".join(rel.attrs.get("options", []))
        return Boundary(FILTERED, f"filters on the verified tenant (`{s['context_function']}`)"
                                  + (", security_barrier" if barrier else ""))
    if column in rel.columns and s["app_roles"] and not _granted(rel, s["app_roles"]):
        return Boundary(PRIVATE, f"no row-level security, and no grant to a tenant-facing role "
                                 f"({', '.join(s['app_roles'])}); {_via(rel)}")
    if column in rel.columns:
        return Boundary(EXPOSED, f"has `{column}` but no row-level security: every role that may read it "
                                 "sees every tenant's rows")
    return Boundary(SHARED, f"no `{column}`: not tenant data; the grants decide who reads it")


def _granted(rel: Relation, roles: list[str]) -> bool:
    """Whether PUBLIC or one of `roles` holds a privilege on `rel` or on one of its columns."""
    holders = set(rel.attrs.get("privileges", {})) | {r for c in rel.columns.values() for r in c.get("privileges", {})}
    return bool(holders & {"PUBLIC", *roles})


def _via(rel: Relation) -> str:
    if not rel.read_by:
        return "no view shows its rows"
    return "tenants reach its rows only through " + ", ".join(f"`{v}`" for v in rel.read_by)
