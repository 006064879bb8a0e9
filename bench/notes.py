"""What the report says about figures that miss their goal, and the schema changes made for them.
Written from the plans, the ↳ rows and the server's planning and execution times; a missed goal without
a note here is reported as such, never hidden. Keys: rls.<query>, scaling.<query>, tool,
timeline.<edition>.<query>.<small|large> (edition: apache or timescale, the community edition)."""

from __future__ import annotations

_TOKEN = (
    "Since 0017 every policy finds the tenant with `(SELECT app.verified_tenant())`: an InitPlan, once per "
    "statement, calling a SECURITY DEFINER PL/pgSQL function with a SET search_path clause that looks the SHA-256 "
    "of the session's token up in app.tenant_tokens by its primary key (see the plans); before 0017 the sub-select "
    "read a setting, which any role can set. `python -m bench.context` (DATABASE_URL of a migrated, seeded "
    "database, e.g. `make demo`) takes it apart on the dashboard query by hand, each statement in its own "
    "transaction as here, medians of 300 EXPLAIN ANALYZE runs: the InitPlan takes 47 µs with app.verified_tenant(), "
    "34 µs without the SET clause, 31 µs without SECURITY DEFINER either (the lookup alone: a query run through "
    "SPI, its executor started, two relations locked and opened, the probe), 15 µs for SECURITY DEFINER and SET "
    "around reading a setting, 2 µs for the setting alone; the sub-select's planning costs the same whatever it "
    "calls. Most of it is paid once per transaction (PL/pgSQL's per-transaction state, the lookup's plan checked "
    "again): the same call repeated inside one transaction takes 8 µs. At the small scale the queries take "
    "0.2-0.5 ms, so this fixed cost per statement is 10-30 per cent of them; it weighs a few per cent on the "
    "full scale's 1-3 ms queries. Prepared statements remove only the planning part: measured on the small data "
    "set outside the benchmark (psycopg prepare_threshold=0, both sides prepared), the dashboard query cost 139 "
    "against 122 µs (1.17x) and deals closing soon 98 against 74 µs (1.30x). Nothing cheaper is unforgeable in "
    "pure SQL: a policy can read without a table lookup only what the session holds, and every role can set a "
    "custom setting (only a C extension can reserve a prefix or make a setting superuser-only); a sequence's "
    "currval or a temporary table would be a write at every tenant switch, refused in read-only transactions and "
    "on standbys, where a registered token works today. So this is the price of 0017's design (a token nobody "
    "verified matches no row; set_config() alone reaches no tenant), not the benchmark's to change. ")

_FUNCTION = ("The application reaches this query through a PL/pgSQL function of the schema ({fn}), which plans its "
             "query once per session (a SQL-language function with a SET clause is never inlined and planned its "
             "query on every call, and Citus runs none with parameters: docs/citus.md); the hand-written form is "
             "planned on every execution. The ↳ row \"the same query without the function\" runs its body directly "
             "under RLS. ")

WHY: dict[str, str] = {
    "load.failed": "Application transactions failed while dbtool migrated: section 8 lists their errors.",
    "load.stall": "An application transaction waited longer than twice lock_timeout while dbtool migrated: "
                  "section 8 names the slowest; a statement of the release that holds its lock long (a rewrite, a "
                  "scan) stalls for as long as it runs, which no lock_timeout bounds.",
    "rls.pipeline": (
        "The token lookup (above). Both sides call the same function, get_deal_pipeline(tenant), PL/pgSQL since "
        "Citus needed it (docs/citus.md), which keeps its plan for the session: in the run of commit 2178217, as a "
        "SQL function planned on every call, it took 0.46 ms as the application and 0.42 ms as the superuser "
        "(1.14x); now both sides skip that planning, and the application's fixed cost per call (the lookup and the "
        "policy, the difference in the execution column) weighs on a base a third as large. The application's "
        "call is faster than before; the ratio is not."),
    "rls.dashboard": "The token lookup (above). The plans are otherwise the same index-only scan of idx_deals_dashboard.",
    "rls.closing": "The token lookup (above). The plans are otherwise the same index scan of idx_deals_closing_soon; the five "
                            "tenants have few or no deals closing in 30 days at this scale, so the query is mostly "
                            "its fixed costs.",
    "rls.search": _FUNCTION.format(fn="search_documents, SECURITY DEFINER because @@ is not leakproof and "
                                      "under RLS could never be an index condition; it finds the tenant with "
                                      "app.current_tenant_id(), a PL/pgSQL call doing the same lookup") + (
        "Inside, the token lookup (above)."),
    "rls.vector": _FUNCTION.format(fn="match_documents, with SET hnsw.iterative_scan") + "Inside, the token lookup (above). " + (
        "Before Citus it was a SQL function: match_documents in PL/pgSQL had been tried before 0017 (commit fc56dcc) "
        "and was slower then (1.26x against 1.16-1.19x), when the policies read a setting the planner could see in a "
        "custom plan; since 0017 the tenant is an InitPlan parameter in every plan, so the session's generic plan is "
        "the plan each call made anyway (measured on the demo data: 0.48 against 0.68 ms a call)."),
    "rls.timeline": (
        "latest_activity() is PL/pgSQL, so its query's plan is cached for the session, while the hand-written query "
        "is planned on every execution, and planning a query on the hypertable (chunk exclusion over its chunks) is "
        "the larger part of its cost at this size; should it miss, see the plans."),
    "rls.analytics": (
        "tenant_pipeline_analytics is a security_barrier view (so that a caller's leaky condition cannot see "
        "another tenant's rows of the materialized view, which has no row-level security). PostgreSQL does "
        "not flatten a security-barrier subquery, and planning it costs 15-30 µs on a query of 0.1-0.2 ms, the "
        "smallest query here, so every fixed cost weighs most; on top of it comes the token lookup (above) of "
        "its tenant filter."),
    "timeline.apache.range.large": "See section 7, \"The range\": the view's plan is made for an average tenant.",
    "timeline.timescale.range.large": "See section 7, \"The range\": the view's plan is made for an average tenant.",
    "scaling.search": (
        "idx_documents_search (tenant_id, search_vector) holds every tenant's documents under each lexeme, "
        "and a tenant's documents are spread over the whole table (they arrive over time, interleaved with "
        "everyone else's), so GIN reads nearly every page of the lexemes' posting trees to find the tenant's "
        "entries: the cost follows the platform's size, not the tenant's (it was ten times worse before "
        "0015, with the lexemes alone). Measured on the same data: without a text index, search_documents "
        "reads the tenant's documents through its (tenant_id) index and tests each, 1.5 ms at 1,000 or 100 "
        "tenants (0.87x), and 1.02x against the hand-written query, provided the function computes "
        "websearch_to_tsquery() once (`FROM ..., websearch_to_tsquery('english', $1) AS q`) instead of for "
        "every row it tests (as written, 3.3 ms). The price: a tenant with 100,000 documents would pay for "
        "testing all of them (about 150 ms) where the GIN index stays at a few ms. Both changes touch "
        "sql/functions/ and tests/test_index_usage.py (which expects the GIN index), so they are proposed, "
        "not made; the GIN index of 0015 is kept, the better choice for large tenants."),
    "tool": (
        "`dbtool migrate` is a new Python process, and psql starts in milliseconds. The ↳ row calls dbtool's "
        "migrate() in-process, doing the same work: a transaction per migration committed with its ledger "
        "record (a WAL flush each, where psql -1 commits a few times), the session's timeouts set and reset "
        "around each migration, the lock-retry watcher, the repeatable files checked against the catalog and "
        "recorded, pg_cron reconciled; that is the engine's own cost, 1.05-1.2x psql, within the goal, and all "
        "of it is what dbtool promises (each migration atomic with its record), so none of it is to cut. The "
        "rest is the start-up and exit of the interpreter with what migrate needs: measured on this machine "
        "(python -X importtime, quiet), psycopg 75-110 ms (psycopg_binary brings asyncio and "
        "importlib.metadata), Typer 30 ms, pglast and yoyo 40 ms (reading and splitting the migrations), rich "
        "15 ms (the summary line), dbtool's own modules 15 ms, about 0.25 s against a migration psql applies "
        "in 0.5-0.7 s. Cut already (start-up table above): Typer's pydantic coercion (70 ms, for values it "
        "returns unchanged), evaluating every command's annotations (20 ms), building every command (10-20 "
        "ms), the interpreter's collection of every module's objects at exit (40-60 ms; dbtool/launch.py), and "
        "compiling dbtool's modules on every run where PYTHONDONTWRITEBYTECODE is set (the benchmark compiles "
        "them, as an installed package is). "
        "What remains is the libraries themselves; it weighs less as the schema grows."),
    "tool.help": (
        "The replayed output (`dbtool --help` measured after a first run) is a Python start-up, a hash of "
        "what the output depends on, and a file read. See the ↳ rows of the start-up table for the first run."),
    "tool.usage": (
        "The replayed output (a usage error measured after a first run) is a Python start-up, a hash of what "
        "the output depends on, and a file read. See the ↳ rows of the start-up table for the first run."),
    "tool.usage_dbtool": (
        "A usage error dbtool finds in a command's code (no database given, two options that exclude each "
        "other, no pyproject.toml) comes after Typer has parsed the command line, and depends on the "
        "environment and on files, so it is never replayed: it pays for importing Typer, which alone is about "
        "2.7-2.9x the bare interpreter (the ↳ \"importing Typer alone\" row), for building the one command, "
        "reading pyproject.toml and rich to print the error line. No command module, psycopg, pglast or yoyo "
        "is imported (tests/test_launch.py). The first run of --help or of a usage error Typer finds (the ↳ "
        "\"first run\" rows, about 4x) costs the same for the same reason. Meeting 3x there would take a "
        "command-line parser that imports faster than Typer does."),
    "tool.status": (
        "The ↳ row below status imports only the libraries status uses (psycopg, Typer, rich, pglast, yoyo), "
        "connects and closes: about 1.5-1.7x the floor already, before dbtool does anything. pglast and yoyo "
        "read and split the migration files (status reports a file that does not split, or a non-transactional "
        "migration whose rollback statements do not pair, as migrate would refuse it), Typer parses the "
        "command line, rich prints; dbtool's own part is its modules, building the one command, reading 40 "
        "SQL files and 3 queries, about 0.1-0.3x. Status no longer imports pydantic (Typer's coercion of option "
        "values, 70 ms), evaluates or builds the other commands, or has the interpreter collect every module's "
        "objects at exit (40-60 ms). Meeting 1.3x would take reading the "
        "migrations without pglast and yoyo (for instance a cache of their split, keyed by each file's "
        "checksum) and printing without rich: changes to what status reads and prints, not to its start-up, "
        "left for a decision."),
}

# Section 7's reading of its figures, from the plans (the same on both editions unless said).
TIMELINE = """\
What the plans show (large tenant, at the end of this file):

- **latest_activity()** reads the tenant's `(tenant_id, time DESC)` index in time order and stops after
  50 rows, for the large tenant as for a small one, like the hand-written query. It comes out *cheaper*
  than the hand-written query because it is PL/pgSQL: its query's plan is cached for the session, while
  the hand-written statement is planned on every execution, and planning a query on the hypertable
  (TimescaleDB's chunk exclusion over its chunks) is much of its cost at this size (section 1's table of
  server times: about 150-300 µs of planning by hand, 10-15 µs for the call).
- **Through the view** the same query reads every event of the tenant's 7 days, sorts them and keeps 50:
  PostgreSQL does not push an ORDER BY ... LIMIT into a security_barrier subquery, and the tenant, found by
  the InitPlan (SELECT app.verified_tenant()) when the statement runs, is not known when planning. For a small tenant that is a dozen
  events; for the large one 4,600 (about 230,000 at the full scale), hence the ↳ rows. The
  application's way to its newest events is latest_activity(); the view is for everything else.
- **The range** (days 8–30, 14,600 events of the large tenant): through the view the tenant comes from
  the InitPlan, unknown when planning, so the planner sizes the plan for an average tenant (it estimates about 60 rows, or 3,000 on
  the community edition, where the large tenant has 14,600) and aggregates above the join (on the Apache
  edition by sorting them all for a GroupAggregate), where the hand-written query, whose tenant the
  planner knows (the large tenant is among tenant_id's most common values), aggregates with a hash, or
  per chunk below TimescaleDB's ChunkAppend; planning the view over the chunks also costs about
  0.2-0.3 ms more (the server times above). Every event is read either way, and the compressed chunks
  only in the tenant's segments (the tenant is an index condition on the compressed chunks' index):
  compression keeps the isolation's filter an index condition.
- **The daily summary** through its security_barrier view pays the token lookup (an InitPlan) and the
  unflattened subquery, 40-80 µs more planning on a query of 0.2-0.5 ms; no goal was set for it."""

CHANGES = """\
None by the benchmark for this run: it measures the schema as migrated, with 0017 (the verified tenant
context) and 0018 (activity_timeline's hypertable in the private schema timeline, read through a
security_barrier view and latest_activity()), both fixed designs; where a goal is missed the summary says
what limits it.

Earlier, from this benchmark's figures: `migrations/0015_tune_tenant_queries.sql` (a row each in
docs/deviations.md), measured on an earlier full-scale database without it:

- **idx_documents_search** becomes `GIN (tenant_id, search_vector)` (btree_gin). On `search_vector`
  alone the index returned every tenant's matches before the tenant filter: 167,000 documents for
  'revenue growth' to keep one tenant's 166, 34-74 ms at 1,000 tenants and ten times more with ten
  times the tenants. With the tenant in the index GIN intersects the posting lists inside it: 3 ms.
- **idx_documents_tenant_embedded** `(tenant_id) WHERE embeddings IS NOT NULL`: for a tenant's few
  dozen embedded documents the planner rightly prefers an exact scan to the HNSW index (which row-level
  security would filter down to the tenant's 0.1 per cent of its candidates), but found them by reading
  every document of the tenant: 1.5 ms, now 0.2 ms.

Both are built CONCURRENTLY in a non-transactional migration, the new search index before the old one
is dropped. Also made outside the benchmark from its figures: the policies and the tenant-filtered views
read the tenant in a sub-select instead of calling a PL/pgSQL function (40-60 µs a statement; 0017 keeps
that form for its token lookup), and dbtool's CLI imports each command's modules only when it runs,
builds only the command it runs, skips Typer's pydantic coercion where it changes nothing, and replays
the output of --help and of Typer's usage errors (tool; dbtool/launch.py). The four functions of
sql/functions/ are PL/pgSQL since Citus needed it (docs/citus.md), which keeps their plans for the
session (rls.pipeline, rls.search, rls.vector). Tried and not kept: app.current_tenant_id() as an
inlinable SQL function, a covering (tenant_id) INCLUDE (search_vector) index, match_documents in
PL/pgSQL before 0017 (rls.vector). Still proposed, not made (sql/functions/ and
tests/test_index_usage.py are not the benchmark's): computing websearch_to_tsquery() once in
search_documents and dropping the text GIN (scaling.search)."""


# Measured apart by `python -m bench.policy_forms` (its own clusters and data set, the small scale's): the
# figures are this text's, not the run's; run it again after changing sql/policies/ or app.verified_tenant().
POLICY_FORMS = """\
### The policies' two forms (Citus)

Citus refuses a sub-select in the policy of a distributed table, `tenant_id = (SELECT app.verified_tenant())`,
and accepts the plain call, `tenant_id = app.verified_tenant()`: the same rows (the function is STABLE: one
value per statement), computed differently. The sub-select is an InitPlan, run once per statement. The plain
call is computed once per index scan where the comparison is an index condition (and once more by the
planner, which estimates with its value), and once per row anywhere else: a filter, the inner side of a
nested loop, a correlated sub-query, each run again per outer row. So the files of sql/policies/ create the
plain call and, without Citus, put it back in a sub-select: PostgreSQL keeps the sub-select, a Citus
coordinator has the plain call (docs/citus.md; migration 0037 converts what an earlier run left there).

Measured by `python -m bench.policy_forms --runs 48` on 2026-12-07 (PostgreSQL 15.20, Debian's build, the
Apache edition; 1,000 tenants x 20 deals, `dbtool seed --seed bench`), apart from the run above: one seeded
database copied twice, every tenant policy of one copy given the plain call; the application on each copy
and the superuser by hand, interleaved in the six orders in turn; medians of 48 per-repetition ratios (IQR).
Section 1's queries, then three probes where the tenant condition is not one index scan's (no goal):

| query | sub-select vs by hand | plain call vs by hand | plain call vs sub-select | app.verified_tenant() calls per execution: sub-select, plain call |
|---|---|---|---|---|
| pipeline | 1.34x (1.12–1.56) | 1.42x (1.23–1.67) | **1.02x** (0.93–1.20) | 1, 1 |
| dashboard | 1.25x (1.17–1.42) | 1.25x (1.17–1.41) | **0.99x** (0.88–1.13) | 1, 2 |
| closing | 1.30x (1.04–1.54) | 1.28x (1.15–1.53) | **0.97x** (0.84–1.19) | 1, 2 |
| search | 0.78x (0.67–0.91) | 0.83x (0.70–0.97) | **1.04x** (0.84–1.29) | 1, 1 |
| vector | 0.74x (0.69–0.81) | 0.72x (0.66–0.80) | **0.92x** (0.87–1.10) | 1, 1 |
| timeline | 0.75x (0.63–0.84) | 0.72x (0.64–0.89) | **1.04x** (0.82–1.21) | 1, 1 |
| analytics | 1.56x (1.20–1.95) | 1.55x (1.22–2.00) | **1.01x** (0.86–1.28) | 1, 1 |
| ↳ *join: deals, deal_team_members, users* | 1.02x (0.95–1.12) | 1.10x (0.98–1.19) | **1.09x** (0.98–1.15) | 3, 6 |
| ↳ *correlated: each open deal's latest activity* | 1.19x (1.05–1.33) | 2.18x (1.94–2.33) | **1.80x** (1.68–1.96) | 2, 42 |
| ↳ *filter: deals whose name matches '%ar%'* | 0.65x (0.57–0.79) | 0.69x (0.61–0.88) | **1.05x** (0.95–1.17) | 1, 2 |

On section 1's queries the two forms cost the same (0.92-1.04x; timeline and analytics do not read a
policy and show the noise between the copies): where the tenant is an index condition the call is made
once at run time, and once more by the planner, and the totals stay within the noise. Neither
form changes the goals missed above: what they miss is the token lookup itself, once per statement either
way. Where the comparison is a filter the plain call is made per row, about 8 µs a call: in the
correlated sub-query the activities of each deal are found by deal_id and filtered on the tenant, for
every deal again, so it is called 42 times for 2 (a tenant's 19 open deals and their 38 activities), and
the query takes 1.8x the sub-select's time (2.2x by hand, against 1.2x). Hence the sub-select on PostgreSQL.
The same command run again an hour later, with 0031-0038 in the schema, gave 0.99-1.11x for section 1's
queries (0.91x for timeline, which reads no policy), 1.02x for the join and 1.75x for the correlated
sub-query (42 calls for 2 again).

On Citus the plain call is the only form. `python -m bench.policy_forms --citus
/opt/pg-citus/usr/lib/postgresql/15/bin --runs 36` (Citus 13.2.2, a coordinator and two workers on
loopback, the same data; users, deals, deal_team_members and activities distributed by tenant_id, 32
shards each, with the policies the files give there; each execution a transaction setting the token with
`SET LOCAL` and `citus.propagate_set_commands = 'local'`, as an application on Citus must):

| query | the application, tenant named in the query, vs by hand | the application, RLS alone, vs by hand | tasks: named, RLS alone, by hand |
|---|---|---|---|
| dashboard | **0.89x** (0.77–1.09) | 7.8x (6.2–15.4) | 1, 32, 1 |
| closing | **0.99x** (0.87–1.24) | 8.3x (7.1–10.9) | 1, 32, 1 |
| ↳ *join* | **0.96x** (0.43–1.35) | 26x (14–35) | 1, 32, 1 |
| ↳ *correlated* | **1.28x** (0.78–1.64) | 20x (11–34) | 1, 32, 1 |

With the tenant named in the query (`tenant_id = $1` beside the policy) Citus routes it to one shard and
the policy costs what it does on one server, or less: a round trip to the worker dominates (about 2 ms a
transaction here, against 0.2-0.3 ms on one server). A query that relies on the policy alone runs on all
32 shards, 8-26 times as long: Citus' planner never sees a policy (docs/citus.md, "Routing"), whichever
form it has. The per-row calls stay on Citus (the correlated sub-query, 1.3x), where nothing else is
accepted. Run again with 0031-0038 in the schema (a busier machine): 0.90-1.07x with the tenant named,
1.69x (0.81-2.54) for the correlated sub-query, 11-18 times under the policy alone."""


# What several missed goals share, said once before them: key prefix -> paragraph.
COMMON: dict[str, str] = {"rls.": "**Section 1, the token lookup.** " + _TOKEN.strip()}


def why(key: str) -> str:
    return WHY.get(key, "no explanation recorded yet: see the plans below")
