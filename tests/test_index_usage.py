"""The document's common queries stay on their indexes under row-level security.

Realistic data (schema_support.load_bulk: 50 tenants, 16,500 deals, 1,580 documents with 1,536-dim
embeddings, 7 weeks of timeline, two sessions per user, a data room for every tenth deal), ANALYZEd; every query runs as maplatform_app with a tenant set,
so the policy's tenant filter is part of the plan. No enable_* switch is touched except in the
one test that forces the ANN path on purpose, to show what the iterative scan buys.
"""

from __future__ import annotations

import json
import re

import psycopg
import pytest

from schema_support import APP, BULK_TENANT, SMALL_TENANT, acting_as, cloned_db, load_bulk, tenant_token


@pytest.fixture(scope="module")
def bulk(server):
    with cloned_db(server, "bulk") as url:
        with psycopg.connect(url, autocommit=True) as c:
            load_bulk(c)
        yield url


@pytest.fixture
def conn(bulk, conn_to):
    return conn_to(bulk)


def plan(conn, query, params=None) -> str:
    return "\n".join(r[0] for r in conn.execute("EXPLAIN (COSTS OFF) " + query, params))


# The tenant context's InitPlan reads app.tenant_tokens, a registry of a few rows (one per live token):
# a sequential scan of its one page is the right plan there, and is not what these tests look for.
SEQ_SCAN_OF_DATA = re.compile(r"Seq Scan on (?!tenant_tokens\b)")


COMMON = {
    # a tenant's pipeline: test_get_deal_pipeline_runs_its_query_on_an_index, below
    "the dashboard (covering index)": (
        """SELECT stage, value, probability, expected_close_date, name, owner_id FROM public.deals
           WHERE archived_at IS NULL ORDER BY stage, value""", ("Index Only Scan using idx_deals_dashboard",)),
    "deals closing soon": (
        """SELECT name, expected_close_date FROM public.deals
           WHERE archived_at IS NULL AND stage IN ('negotiation', 'due_diligence')
             AND expected_close_date BETWEEN current_date AND current_date + 30 ORDER BY expected_close_date""",
        ("idx_deals_closing_soon", "idx_deals_dashboard")),
    "the largest open deals": (
        "SELECT name, value FROM public.deals WHERE archived_at IS NULL ORDER BY value DESC LIMIT 10",
        ("idx_deals_value",)),
    "activity timeline, last 7 days": (
        """SELECT time_bucket('1 day', time) AS day, count(*) FROM public.activity_timeline
           WHERE time > now() - INTERVAL '7 days' GROUP BY 1""", ("activity_timeline_tenant_id_time_idx",)),
}


@pytest.mark.parametrize("tenant", [SMALL_TENANT, BULK_TENANT], ids=["small tenant", "large tenant"])
@pytest.mark.parametrize("name", COMMON)
def test_common_queries_use_index_scans_as_the_app_role(conn, name, tenant):
    query, indexes = COMMON[name]
    with acting_as(conn, APP, tenant):
        text = plan(conn, query)
    print(f"\n-- {name}\n{text}")
    assert not SEQ_SCAN_OF_DATA.search(text), text
    assert any(i in text for i in indexes), text


def plans_inside(conn, role: str, tenant, call: str, params=None) -> dict[str, dict]:
    """Query text -> plan (auto_explain's JSON) of every statement run while executing `call` as `role`
    with the tenant set, functions' statements included, planned and run as they really are. EXPLAIN
    of the call shows only a Function Scan, and a copy of a body drifts from the function and is
    planned differently (a function's statements get a generic plan). auto_explain sends its output
    to this client as NOTICEs; its settings are superuser-only, so they are set before SET ROLE."""
    notices: list[str] = []

    def collect(diag) -> None:
        notices.append(diag.message_primary or "")
    conn.add_notice_handler(collect)
    try:
        conn.execute("LOAD 'auto_explain'")
        with conn.transaction(force_rollback=True):
            for name, value in (("log_min_duration", "0"), ("log_nested_statements", "on"),
                                ("log_level", "notice"), ("log_format", "json"), ("log_analyze", "off")):
                conn.execute(f"SET LOCAL auto_explain.{name} = {value}")
            with acting_as(conn, role, tenant):
                conn.execute(call, params).fetchall()
    finally:
        conn.remove_notice_handler(collect)
    logged = [json.loads(n.split("plan:", 1)[1]) for n in notices if n.startswith("duration:") and "plan:" in n]
    return {entry["Query Text"]: entry["Plan"] for entry in logged}


def plan_nodes(node: dict) -> list[dict]:
    return [node] + [n for child in node.get("Plans", []) for n in plan_nodes(child)]


@pytest.mark.parametrize("tenant", [SMALL_TENANT, BULK_TENANT], ids=["small tenant", "large tenant"])
def test_get_deal_pipeline_runs_its_query_on_an_index(conn, tenant):
    """A tenant's pipeline, as the application calls it: the plan of the statement inside the
    function (found by the table it reads), as maplatform_app with the tenant set."""
    plans = plans_inside(conn, APP, tenant, "SELECT * FROM public.get_deal_pipeline(%s)", [tenant])
    inside = [p for q, p in plans.items() if "FROM public.deals AS d" in q]
    assert len(inside) == 1, list(plans)  # the function's own statement, logged on its own
    nodes = plan_nodes(inside[0])
    print(f"\n-- get_deal_pipeline, {tenant}\n" + "\n".join(
        f"{n['Node Type']} {n.get('Index Name') or n.get('Relation Name') or ''}" for n in nodes))
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") != "tenant_tokens"], nodes
    assert any(n["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
               and n.get("Index Name", "").startswith("idx_deals_") for n in nodes), nodes


# The lookups by the keys 0036 made unique per tenant: a user signing in (by Clerk id), a request's session
# (by its token's hash), an outside party's access code, a stored object (by its key); each as the
# application writes it today (the policy names the tenant) and with the tenant named, as on Citus.
LOOKUPS = {
    "a user by Clerk id": ("users", "clerk_id", "idx_users_clerk"),
    "a session by its token hash": ("user_sessions", "token_hash", "idx_sessions_token"),
    "a data room by its access code": ("data_rooms", "access_code", "idx_datarooms_code"),
    "a document by its storage key": ("documents", "storage_key", "documents_tenant_id_storage_key_key"),
}


@pytest.mark.parametrize("tenant_named", [False, True], ids=["policy only", "tenant named"])
@pytest.mark.parametrize("tenant", [SMALL_TENANT, BULK_TENANT], ids=["small tenant", "large tenant"])
@pytest.mark.parametrize("name", LOOKUPS)
def test_a_lookup_by_a_key_unique_per_tenant_reads_one_entry_of_it(conn, name, tenant, tenant_named):
    """The per-tenant key serves the lookup with both of its columns as the index condition, the
    tenant's id and the value: one entry read, never another tenant's."""
    table, column, index = LOOKUPS[name]
    value = conn.execute(f"SELECT {column} FROM public.{table} WHERE tenant_id = %s AND {column} IS NOT NULL "
                         "LIMIT 1", [tenant]).fetchone()[0]
    query = f"SELECT * FROM public.{table} WHERE {column} = %(v)s" + (" AND tenant_id = %(t)s" if tenant_named else "")
    with acting_as(conn, APP, tenant):
        text = plan(conn, query, {"v": value, "t": tenant})
        found = conn.execute(query, {"v": value, "t": tenant}).fetchall()
    print(f"\n-- {name}\n{text}")
    assert f"Index Scan using {index} on {table}" in text, text
    cond = re.search(r"Index Cond: (.*)", text).group(1)
    assert "tenant_id = " in cond and f"{column})::text = " in cond, text
    assert len(found) == 1


def test_the_policy_filter_is_an_index_condition_evaluated_once(conn):
    with acting_as(conn, APP, SMALL_TENANT):
        text = plan(conn, "SELECT count(*) FROM public.deals WHERE archived_at IS NULL")
    assert "InitPlan" in text and "Index Cond: (tenant_id = $0)" in text, text


def test_under_rls_a_text_search_condition_cannot_use_its_gin_index(conn):
    """Why search_documents/search_deals exist: @@ and pg_trgm's operators are not leakproof, so the
    planner must apply the policy first and may not use them as index conditions."""
    leakproof = dict(conn.execute("""SELECT proname, proleakproof FROM pg_proc
                                     WHERE oid IN ('ts_match_vq'::regproc, 'public.word_similarity_op'::regproc)"""))
    assert leakproof == {"ts_match_vq": False, "word_similarity_op": False}
    with acting_as(conn, APP, SMALL_TENANT):
        text = plan(conn, "SELECT id FROM public.documents WHERE search_vector @@ websearch_to_tsquery('english', 'merger')")
    assert "idx_documents_search" not in text and "Filter: (search_vector @@" in text, text


SEARCHES = {
    "search_documents": ("merger", "idx_documents_search"),
    "search_deals": ("Initeck acquisiton 29", "idx_deals_name_trgm"),
}


@pytest.mark.parametrize("tenant", [SMALL_TENANT, BULK_TENANT], ids=["small tenant", "large tenant"])
@pytest.mark.parametrize("function", SEARCHES)
def test_search_functions_run_their_query_on_the_text_index(conn, function, tenant):
    """The function's query as it executes inside the call (as its owner, maplatform_maintenance,
    with the caller's tenant), found among the statements the call ran by the table it reads."""
    text_arg, index = SEARCHES[function]
    table = {"search_documents": "public.documents", "search_deals": "public.deals"}[function]
    plans = plans_inside(conn, APP, tenant, f"SELECT * FROM public.{function}(%s, 20)", [text_arg])
    inside = [p for q, p in plans.items() if f"FROM {table} AS d" in q]
    assert len(inside) == 1, list(plans)
    nodes = plan_nodes(inside[0])
    print(f"\n-- {function}, {tenant}\n" + "\n".join(
        f"{n['Node Type']} {n.get('Index Name') or n.get('Relation Name') or ''}" for n in nodes))
    assert any(n.get("Index Name") == index for n in nodes), nodes
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") != "tenant_tokens"], nodes


def test_search_functions_return_only_the_current_tenants_rows(conn):
    with acting_as(conn, APP, SMALL_TENANT):
        docs = conn.execute("SELECT id FROM public.search_documents('merger', 100)").fetchall()
        deals = conn.execute("SELECT name, similarity FROM public.search_deals('Hoolie acquisiton 124', 5)").fetchall()
    owners = {r[0] for r in conn.execute("SELECT DISTINCT tenant_id FROM public.documents WHERE id = ANY(%s)",
                                         [[d[0] for d in docs]])}
    assert len(docs) == 4 and owners == {SMALL_TENANT}  # names 97, 194, 291 and 388 of 400
    assert deals[0][0] == "Hooli acquisition 124"
    with acting_as(conn, APP):
        assert conn.execute("SELECT count(*) FROM public.search_documents('merger')").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM public.search_deals('Hooli')").fetchone()[0] == 0


def test_vector_similarity_uses_the_hnsw_index(conn):
    """Across tenants (maintenance, e.g. duplicate detection) the planner takes the ANN index; for one
    tenant under RLS it weighs it against an exact scan of the tenant's rows (next tests)."""
    probe = conn.execute("SELECT embeddings::text FROM public.documents WHERE embeddings IS NOT NULL LIMIT 1").fetchone()[0]
    with acting_as(conn, "maplatform_maintenance"):
        text = plan(conn, "SELECT id FROM public.documents ORDER BY embeddings <=> %s::vector LIMIT 10", [probe])
    assert "Index Scan using idx_documents_embeddings" in text, text


def test_match_documents_returns_the_tenants_nearest_documents_nearest_first(conn):
    with acting_as(conn, APP, BULK_TENANT):
        probe = conn.execute("SELECT embeddings::text FROM public.documents "
                             "WHERE embeddings IS NOT NULL LIMIT 1").fetchone()[0]
        text = plan(conn, "SELECT id FROM public.documents ORDER BY embeddings <=> %s::vector LIMIT 10", [probe])
        rows = conn.execute("SELECT id, distance FROM public.match_documents(%s::vector, 10)", [probe]).fetchall()
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL enable_indexscan = off")  # brute force: the true nearest ten
        exact = [r[0] for r in conn.execute(
            "SELECT id FROM public.documents WHERE tenant_id = %s AND embeddings IS NOT NULL "
            "ORDER BY embeddings <=> %s::vector LIMIT 10", [BULK_TENANT, probe])]
    assert not SEQ_SCAN_OF_DATA.search(text), text
    assert len(rows) == 10 and rows[0][1] == pytest.approx(0, abs=1e-6)
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)
    assert len({r[0] for r in rows} & set(exact)) >= 8  # approximate search: recall, not identity


def test_iterative_scan_returns_k_rows_where_a_plain_ann_scan_under_rls_does_not(conn):
    """A tenant with 40 of 2,560 embedded documents. Force the ANN plan (as the planner may choose it when it
    misjudges a tenant's size): HNSW yields hnsw.ef_search = 40 candidates, RLS keeps ~1% of them.
    match_documents turns on pgvector 0.8's relaxed iterative scan and still returns 10 rows."""
    with acting_as(conn, APP, SMALL_TENANT):
        probe = conn.execute("SELECT embeddings::text FROM public.documents "
                             "WHERE embeddings IS NOT NULL LIMIT 1").fetchone()[0]
        conn.execute("SET LOCAL enable_sort = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        text = plan(conn, "SELECT id FROM public.documents ORDER BY embeddings <=> %s::vector LIMIT 10", [probe])
        plain = conn.execute("SELECT count(*) FROM (SELECT id FROM public.documents "
                             "ORDER BY embeddings <=> %s::vector LIMIT 10) AS s", [probe]).fetchone()[0]
        iterative = conn.execute("SELECT count(*) FROM public.match_documents(%s::vector, 10)", [probe]).fetchone()[0]
        tenant_docs = conn.execute("SELECT count(embeddings) FROM public.documents").fetchone()[0]
    assert "idx_documents_embeddings" in text, text
    assert tenant_docs == 40
    print(f"\nplain HNSW under RLS: {plain} of 10 rows; match_documents (iterative): {iterative}")
    assert plain < 10
    assert iterative == 10
