"""Which database objects a statement creates, drops or alters, read from PostgreSQL's parse tree.

Keys are (kind, identity): tables, views, materialized views, sequences and indexes share one
namespace in PostgreSQL ("relation"); functions are keyed by name and argument types so that an
overload is a new object; triggers and policies by table and name. Unqualified names default to
`public`, as they would with the default search_path.
"""

from __future__ import annotations

from pglast import ast, enums

OT = enums.ObjectType
RELATION_DROPS = {OT.OBJECT_TABLE, OT.OBJECT_VIEW, OT.OBJECT_MATVIEW, OT.OBJECT_INDEX, OT.OBJECT_SEQUENCE,
                  OT.OBJECT_FOREIGN_TABLE}
FUNCTION_DROPS = {OT.OBJECT_FUNCTION, OT.OBJECT_PROCEDURE, OT.OBJECT_ROUTINE}
TYPE_DROPS = {OT.OBJECT_TYPE, OT.OBJECT_DOMAIN}
ON_TABLE_DROPS = {OT.OBJECT_TRIGGER: "trigger", OT.OBJECT_POLICY: "policy"}
IN_ARG_MODES = {"i", "b", "v", "d"}  # IN, INOUT, VARIADIC, default: the ones in the signature


def name_of(names, default_schema: str | None = "public") -> str:
    """`schema.name` from a RangeVar or a list of String nodes."""
    if isinstance(names, ast.RangeVar):
        schema, name = names.schemaname, names.relname
    else:
        parts = [n.sval for n in names]
        schema, name = (parts[-2] if len(parts) > 1 else None), parts[-1]
    schema = schema or default_schema
    return f"{schema}.{name}" if schema else name


def type_name(t: ast.TypeName) -> str:
    base = t.names[-1].sval
    return base + "[]" * len(t.arrayBounds or ())


def function_key(funcname, arg_types) -> tuple[str, str]:
    return ("function", f"{name_of(funcname)}({','.join(arg_types)})")


def _sig(params) -> list[str]:
    return [type_name(p.argType) for p in params or () if str(p.mode.value) in IN_ARG_MODES]


def created(node) -> list[tuple[tuple[str, str], str]]:
    """[(key, label)] for what the statement creates."""
    if isinstance(node, ast.CreateStmt):
        return [(("relation", name_of(node.relation)), f"table {name_of(node.relation)}")]
    if isinstance(node, ast.ViewStmt):
        return [(("relation", name_of(node.view)), f"view {name_of(node.view)}")]
    if isinstance(node, ast.CreateTableAsStmt):
        return [(("relation", name_of(node.into.rel)), f"materialized view {name_of(node.into.rel)}")]
    if isinstance(node, ast.CreateSeqStmt):
        return [(("relation", name_of(node.sequence)), f"sequence {name_of(node.sequence)}")]
    if isinstance(node, ast.IndexStmt) and node.idxname:
        schema = node.relation.schemaname or "public"
        return [(("relation", f"{schema}.{node.idxname}"), f"index {schema}.{node.idxname}")]
    if isinstance(node, ast.CreateFunctionStmt):
        key = function_key(node.funcname, _sig(node.parameters))
        return [(key, f"function {key[1]}")]
    if isinstance(node, ast.CompositeTypeStmt):
        return [(("type", name_of(node.typevar)), f"type {name_of(node.typevar)}")]
    if isinstance(node, (ast.CreateEnumStmt, ast.CreateDomainStmt)):
        names = node.typeName if isinstance(node, ast.CreateEnumStmt) else node.domainname
        return [(("type", name_of(names)), f"type {name_of(names)}")]
    if isinstance(node, ast.CreateTrigStmt):
        ident = f"{node.trigname} on {name_of(node.relation)}"
        return [(("trigger", ident), f"trigger {ident}")]
    if isinstance(node, ast.CreatePolicyStmt):
        ident = f"{node.policy_name} on {name_of(node.table)}"
        return [(("policy", ident), f"policy {ident}")]
    return []


def dropped(node) -> list[tuple[str, str]]:
    """Keys the statement drops; a function dropped without arguments drops every overload
    (its key ends in `(*)`)."""
    if not isinstance(node, ast.DropStmt):
        return []
    out = []
    for obj in node.objects or ():
        if node.removeType in RELATION_DROPS:
            out.append(("relation", name_of(obj)))
        elif node.removeType in FUNCTION_DROPS:
            if obj.args_unspecified:
                out.append(("function", name_of(obj.objname) + "(*)"))
            else:
                out.append(function_key(obj.objname, [type_name(t) for t in obj.objargs or ()]))
        elif node.removeType in TYPE_DROPS:
            out.append(("type", name_of(obj.names if isinstance(obj, ast.TypeName) else obj)))
        elif node.removeType in ON_TABLE_DROPS:
            parts = [n.sval for n in obj]
            out.append((ON_TABLE_DROPS[node.removeType], f"{parts[-1]} on {name_of(obj[:-1])}"))
    return out


def matches(key: tuple[str, str], drop: tuple[str, str]) -> bool:
    if drop[1].endswith("(*)"):
        return key[0] == drop[0] and key[1].split("(")[0] == drop[1][:-3]
    return key == drop


def target_table(node) -> str | None:
    """The table a statement locks or changes, for squawk findings on tables new in the file."""
    for attr in ("relation", "table"):
        rv = getattr(node, attr, None)
        if isinstance(rv, ast.RangeVar):
            return name_of(rv)
    return None
