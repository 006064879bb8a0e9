"""What the report says about figures that miss their goal, and the schema changes made for them.
Written from the plans and the ↳ rows; a missed goal without a note here is reported as such, never
hidden. Keys: rls.<query>, scaling.<query>, tool."""

from __future__ import annotations

_FIXED = ("At this size the query itself takes a few tenths of a millisecond, so what row-level security "
          "adds once per statement shows: the policy's sub-select (an InitPlan calling "
          "app.current_tenant_id(), a PL/pgSQL function, about 4 µs) and planning the policy's condition. ")

_FUNCTION = ("The application reaches this query through a LANGUAGE sql function the schema gives it "
             "({fn}). PostgreSQL never inlines a SQL function that is SECURITY DEFINER or has a SET clause, "
             "and plans a non-inlined SQL function's query again on every call (SQL functions have no plan "
             "cache across calls): about 0.1 ms per call on this machine, which the hand-written query does not "
             "pay. The ↳ row runs the function's query directly under RLS: that is the cost of row-level "
             "security itself. The fix is in sql/functions/ (not the benchmark's to change): the same query "
             "in PL/pgSQL (`RETURN QUERY`), whose plan is cached for the session; measured on the full data set "
             "for match_documents: 0.49 ms in PL/pgSQL, 0.68 ms as the SQL function, 0.58 ms by hand. ")

WHY: dict[str, str] = {
    "rls.pipeline": _FIXED + "Both sides call the same function here, so nothing else differs.",
    "rls.dashboard": _FIXED + "The plans are the same index-only scan of idx_deals_dashboard.",
    "rls.closing": _FIXED + "The plans are the same index scan of idx_deals_closing_soon.",
    "rls.search": _FUNCTION.format(fn="search_documents, SECURITY DEFINER because @@ is not leakproof and "
                                      "under RLS could never be an index condition: the ↳ row reads every "
                                      "document of the tenant"),
    "rls.vector": _FUNCTION.format(fn="match_documents, with SET hnsw.iterative_scan"),
    "rls.timeline": (
        "The policy of activity_timeline is `tenant_id = ANY (ARRAY[(SELECT app.current_tenant_id())])`, not "
        "the equality of every other table, because with the equality TimescaleDB 2.19 fails a DELETE or UPDATE "
        "that also names the tenant (docs/deviations.md). To the planner a one-element ANY is not an equality, so "
        "it does not know that every row has the same tenant_id and cannot read (tenant_id, time DESC) in time "
        "order: it reads all of the tenant's events of the 7 days and sorts them, where the hand-written query "
        "reads 50 in index order and stops (see the plans; on the small data set, where a tenant has a dozen "
        "events a week, what remains is the policy's planning cost on a hypertable). The ↳ row writes the "
        "same query `ORDER BY tenant_id, time DESC`, the same rows since one tenant is visible, and gets the "
        "ordered scan back. The schema fix is the policy (sql/policies/, not the benchmark's to change): "
        "the equality, once TimescaleDB's bug (issues 5475, 6790) is fixed in the version used, or a "
        "SELECT-only policy with the equality if DELETE/UPDATE on the timeline go through a function."),
    "rls.analytics": (
        "tenant_pipeline_analytics is a security_barrier view (so that a caller's leaky condition cannot see "
        "another tenant's rows of the materialized view, which has no row-level security). PostgreSQL does "
        "not flatten a security-barrier subquery, and planning it costs 15-30 µs on a query of 0.1 ms; the "
        "superuser reading the same view pays the same (measured), so this is the barrier's price, not "
        "row-level security's. Keep it."),
    "scaling.search": (
        "idx_documents_search (tenant_id, search_vector) still holds every tenant's documents under each "
        "lexeme, and GIN steps through those posting trees to the tenant's entries: with ten times the tenants "
        "the trees are deeper and longer. It was ten times worse before migration 0015 (the lexemes alone)."),
    "tool": (
        "`dbtool migrate` is a Python process: importing it takes about 0.5 s here (psycopg, typer, yoyo and "
        "sqlparse, and the lint, backup and snapshot modules that dbtool/cli.py imports for every command), "
        "which psql does not pay; the migrations themselves cost about the same (one transaction each with its "
        "ledger record, a savepoint per statement, then the repeatable files and pg_cron). The fixed start-up "
        "is most of the difference, so the ratio falls as the schema grows; importing each command's module "
        "only when that command runs would cut it (dbtool/cli.py, not the benchmark's to change)."),
}

CHANGES = """\
`migrations/0015_tune_tenant_queries.sql` (with its rollback; a row each in docs/deviations.md), from
the plans of the first full-scale run:

- **idx_documents_search** becomes `GIN (tenant_id, search_vector)` (btree_gin). On `search_vector`
  alone the index returned every tenant's matches before the tenant filter: 167,000 documents for
  'revenue growth' to keep one tenant's 166, 34-74 ms at 1,000 tenants and ten times more with ten
  times the tenants. With the tenant in the index GIN intersects the posting lists inside it: 3 ms.
- **idx_documents_tenant_embedded** `(tenant_id) WHERE embeddings IS NOT NULL`: for a tenant's few
  dozen embedded documents the planner rightly prefers an exact scan to the HNSW index (which row-level
  security would filter down to the tenant's 0.1 per cent of its candidates), but found them by reading
  every document of the tenant: 1.5 ms, now 0.2 ms.

Both are built CONCURRENTLY in a non-transactional migration, the new search index before the old one
is dropped. Not changed here, because they are not the benchmark's files, and proposed with their
figures above: the timeline policy, the SQL functions' language, dbtool's start-up."""


def why(key: str) -> str:
    return WHY.get(key, "no explanation recorded yet: see the plans below")
