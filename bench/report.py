"""docs/benchmarks.md from one run's results: every figure with its goal, met or not, and why not."""

from __future__ import annotations

from dbtool.commands import seed as seed_cmd

from . import notes

RLS_GOAL, SCALING_GOAL, TOOL_GOAL = 1.15, 1.3, 1.5


def _x(v: float) -> str:
    return f"{v:.2f}x"


def _ms(v: float) -> str:
    return f"{v:.3f} ms" if v < 1 else f"{v:.1f} ms" if v < 100 else f"{v:,.0f} ms"


def _spread(p) -> str:
    d = p.as_dict()
    return f"{d['iqr'][0]:.2f}–{d['iqr'][1]:.2f} ({d['min']:.2f}–{d['max']:.2f})"


def _verdict(ratio: float, goal: float) -> str:
    return "met" if ratio <= goal else "**missed**"


def render(r: dict) -> str:
    parts = [_header(r), _summary(r), _machine(r), _seed(r), _rls(r), _scaling(r), _tool(r), _drift(r),
             _refresh(r), _method(r), _changes(), _plans(r)]
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


def _header(r: dict) -> str:
    s = r["scale"]
    few, many = s.tenants
    return f"""# Benchmarks

Written by `{r['command']}` on {r['finished']:%Y-%m-%d %H:%M} UTC in {r['wall_seconds'] / 60:.1f} minutes
(commit {r['machine']['commit']}). Scale **{s.name}**: {many:,} tenants x {s.deals_per_tenant:,} deals
({many * s.deals_per_tenant:,} deals, {many * s.deals_per_tenant * seed_cmd.EVENTS_PER_DEAL:,} timeline
events; database {r['sizes']['database']}), and {few:,} tenants of the same size for the scaling comparison.
Every figure is a **ratio of two things measured side by side in this run**, interleaved (A B, B A, A B, ...)
so that the machine's noise hits both; absolute times are given for orientation only. Median of
{s.runs} repetitions (queries), spread as interquartile range and (min–max) of the per-repetition ratios.
`make bench` runs the small scale in a few minutes; `make bench-full` the full scale
(1,000,000 deals, 10,000,000 timeline events)."""


def _summary(r: dict) -> str:
    rows = ["| figure | goal | measured (median) | verdict |", "|---|---|---:|---|"]
    for x in r["rls"]:
        rows.append(f"| 1. RLS cost: {x['query'].key} | ≤ {RLS_GOAL}x | {_x(x['pair'].ratio)} "
                    f"| {_verdict(x['pair'].ratio, RLS_GOAL)} |")
    for x in r["scaling"]:
        rows.append(f"| 2. tenant scaling: {x['query'].key} | ≤ {SCALING_GOAL}x | {_x(x['pair'].ratio)} "
                    f"| {_verdict(x['pair'].ratio, SCALING_GOAL)} |")
    t = r["tool"]["pair"]
    rows.append(f"| 3. dbtool migrate vs psql | ≤ {TOOL_GOAL}x | {_x(t.ratio)} | {_verdict(t.ratio, TOOL_GOAL)} |")
    for x in r["refresh"]:
        rows.append(f"| 5. REFRESH CONCURRENTLY vs plain: {x['view']} | (none) | {_x(x['pair'].ratio)} | — |")
    missed = _missed(r)
    text = "## Summary\n\n" + "\n".join(rows)
    if missed:
        text += "\n\n### Goals not met\n\n" + "\n".join(f"- **{k}** ({v}): {notes.why(k)}" for k, v in missed)
    else:
        text += "\n\nEvery goal is met."
    return text


def _missed(r: dict) -> list[tuple[str, str]]:
    out = [(f"rls.{x['query'].key}", _x(x["pair"].ratio)) for x in r["rls"] if x["pair"].ratio > RLS_GOAL]
    out += [(f"scaling.{x['query'].key}", _x(x["pair"].ratio)) for x in r["scaling"] if x["pair"].ratio > SCALING_GOAL]
    if r["tool"]["pair"].ratio > TOOL_GOAL:
        out.append(("tool", _x(r["tool"]["pair"].ratio)))
    return out


def _machine(r: dict) -> str:
    m = r["machine"]
    ext = ", ".join(f"{k} {v}" for k, v in m["extensions"].items())
    settings = "\n".join(f"    {k} = {v}" for k, v in m["settings"].items())
    return f"""## Machine and server

- {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, {m['os']}, Linux {m['kernel']}, Python {m['python']}
- {m['postgres']}
- extensions: {ext}; TimescaleDB edition: {m['timescaledb_edition']}
- a throwaway cluster started by the benchmark (initdb, Unix socket, fsync on), with:

{settings}

The machine is shared (other work may run during the benchmark): that is why every figure is a
ratio of interleaved measurements and not an absolute time."""


def _seed(r: dict) -> str:
    res = r["seed"]
    s = r["scale"]
    many = s.tenants[1]
    shape = seed_cmd.Scale(many, s.deals_per_tenant)
    rows = ["| table | rows | seconds | rows/s |", "|---|---:|---:|---:|"]
    for t in res.tables:
        rows.append(f"| {t.table} | {t.rows:,} | {t.seconds:.1f} | {t.rows_per_second:,.0f} |")
    total = res.rows
    rows.append(f"| **all tables** | **{total:,}** | **{res.load_seconds:.1f}** | **{total / res.load_seconds:,.0f}** |")
    rows.append(f"| VACUUM (ANALYZE) afterwards | | {res.vacuum_seconds:.1f} | |")
    few = r["seed_few"]
    return f"""## The seed data (`dbtool seed`)

`dbtool seed --tenants {many} --deals-per-tenant {s.deals_per_tenant} --jobs 2` into the freshly migrated
database of this run took **{res.load_seconds / 60:.1f} minutes** ({res.load_seconds:.0f} s) plus
{res.vacuum_seconds:.0f} s of VACUUM (ANALYZE); the {s.tenants[0]}-tenant database {few.load_seconds:.0f} s.
Every table is one INSERT ... SELECT over generate_series, split between two connections (`--jobs 2`),
with every constraint and trigger of the schema active (composite tenant foreign keys, the same-tenant
array and polymorphic-reference triggers, CHECKs, the generated tsvector, every index including HNSW):

{chr(10).join(rows)}

The shape, per tenant and per deal (`dbtool/commands/seed.py`; `--deals-per-tenant` scales everything):

| table | rows |
|---|---|
| users | 2 + deals per tenant / 20 per tenant ({shape.users_per_tenant} here); one session and one presence row each |
| pipeline_stages | the 8 stages per tenant |
| deals | funnel 25/18/14/10/9/6 per cent open stages, 10 won, 8 lost; probability = stage default ± 5; log-normal value (median 8 million); owner and a team of two from the tenant |
| deal_team_members | {seed_cmd.TEAM_MEMBERS_PER_DEAL} per deal (the deal's team_ids) |
| document_folders | {seed_cmd.FOLDERS_PER_DEAL} per deal: the deal's root folder and a topic subfolder |
| documents | {seed_cmd.DOCUMENTS_PER_DEAL} per deal, with an AI summary; an embedding on 1 in 40 per tenant, at least 10 ({shape.embedded_per_tenant} per tenant here) |
| data_rooms, data_room_permissions | 1 per {seed_cmd.DEALS_PER_DATA_ROOM} deals; {seed_cmd.PERMISSIONS_PER_DATA_ROOM} permissions each |
| activities, tasks | {seed_cmd.ACTIVITIES_PER_DEAL} and {seed_cmd.TASKS_PER_DEAL} per deal (the second task depends on the first) |
| activities_archive | 1 per {seed_cmd.DEALS_PER_ARCHIVED_ACTIVITY} deals, older than a year |
| valuations, ai_analyses | 1 per {seed_cmd.DEALS_PER_VALUATION} deals each |
| comments | a comment and its reply on 1 deal in {seed_cmd.DEALS_PER_COMMENT_THREAD} |
| notifications | {seed_cmd.NOTIFICATIONS_PER_DEAL} per deal |
| activity_timeline | {seed_cmd.EVENTS_PER_DEAL} per deal, spread over the 90 days before the seed's date |

Seeding writes every tenant's rows, so it runs as a role that bypasses row-level security: the
superuser here. Where you are not a superuser, a DBA creates the seeding role once:
`CREATE ROLE seeder LOGIN BYPASSRLS; GRANT maplatform_owner TO seeder;` (BYPASSRLS is granted by a
superuser; membership of the owner role gives INSERT on every table and lets TimescaleDB create chunks).
`dbtool seed` checks this first and says what to grant; it never disables a trigger
(session_replication_role) or a constraint to go faster. With `--jobs 1` it is one transaction; with
more, each step commits as its connections finish and a failure (or Ctrl-C) removes what was committed.

Why only 1 document in 40 has an embedding: inserting into the HNSW index costs about 2 ms per
1,536-dimension vector on this machine (8 ms for uniformly random vectors; the seed's are clustered
by topic, as real embeddings are), so an embedding on every document would make the embeddings
alone take longer than everything else."""


def _pair_cells(p) -> str:
    return f"{_ms(p.ms('a'))} | {_ms(p.ms('b'))} | **{_x(p.ratio)}** | {_spread(p)}"


def _rls(r: dict) -> str:
    rows = ["| query | as maplatform_app (RLS) | superuser, filter by hand | ratio | IQR (min–max) | rows | same rows | goal ≤ 1.15x |",
            "|---|---:|---:|---:|---|---:|---|---|"]
    for x in r["rls"]:
        p = x["pair"]
        rows.append(f"| {x['query'].title} | {_pair_cells(p)} | {x['rows_app']} / {x['rows_owner']} "
                    f"| {'yes' if x['same_rows'] else 'no'} | {_verdict(p.ratio, RLS_GOAL)} |")
        for v in x["variants"]:
            rows.append(f"| ↳ *{v['title']}* | {_pair_cells(v['pair'])} | {v['rows']} / {x['rows_owner']} "
                        f"| | (for comparison) |")
    return """## 1. Row-level security cost

Each query as the application runs it (role `maplatform_app`, NOLOGIN, reached with `SET ROLE`,
tenant set with `set_tenant_context_for_session`), against the same query run by the superuser (who
bypasses row-level security) with `tenant_id = $1` written by hand; the `maplatform_owner` role cannot
serve as the comparison because row-level security is forced on it too. The tenant rotates over five
tenants spread over the tenant list; per execution: parse, plan, execute, fetch (no prepared statements).
pipeline_analytics is read through the view the schema gives the application, tenant_pipeline_analytics.
Rows marked ↳ are other ways of writing the same query, measured the same way against the same
hand-written form, to show where a difference comes from; they have no goal. Time per execution
(median):

""" + "\n".join(rows)


def _scaling(r: dict) -> str:
    few, many = r["scale"].tenants
    rows = [f"| query | {many:,} tenants | {few:,} tenants | ratio | IQR (min–max) | goal ≤ 1.3x |",
            "|---|---:|---:|---:|---|---|"]
    for x in r["scaling"]:
        rows.append(f"| {x['query'].title} | {_pair_cells(x['pair'])} | {_verdict(x['pair'].ratio, SCALING_GOAL)} |")
    return f"""## 2. Tenant scaling

The same queries as the application (RLS, tenant set) in two databases of the same cluster, one with
{many:,} tenants and one with {few:,}, every tenant of the same size ({r['scale'].deals_per_tenant:,} deals):
what one tenant pays for the others being there.

""" + "\n".join(rows)


def _tool(r: dict) -> str:
    t = r["tool"]
    p = t["pair"]
    same = "identical" if not t["same_schema"] else "DIFFERENT: " + "; ".join(t["same_schema"][:10])
    cmds = "\n".join(f"    {c}" for c in t["psql"])
    return f"""## 3. Tool overhead: `dbtool migrate` against psql

From an empty database to head ({t['migrations']} migrations and the repeatable files), each run on a fresh
database, dbtool and psql alternately, {p.as_dict()['runs']} runs each:

| | dbtool | psql -1 | ratio | IQR (min–max) | goal ≤ 1.5x |
|---|---:|---:|---:|---|---|
| `dbtool migrate` (a new process) | {_pair_cells(p)} | {_verdict(p.ratio, TOOL_GOAL)} |
{_in_process(t)}

`dbtool migrate --quiet --database-url ...` as a new process (Python start-up included), which also
takes its advisory lock, writes its ledger (a record and a checksum per migration and repeatable file),
runs each migration in its own transaction, and reconciles pg_cron jobs; psql applies the same files in
one transaction:

{cmds}

The two databases' catalog snapshots (dbtool's bookkeeping schema and pg_cron jobs aside) are {same}."""


def _in_process(t: dict) -> str:
    if "in_process" not in t:
        return ""
    return (f"| ↳ *dbtool's migrate() called in-process: the same work without a Python start-up* "
            f"| {_pair_cells(t['in_process'])} | (for comparison) |")


def _drift(r: dict) -> str:
    return """## 4. Drift and snapshot cost

`bench/drift.py` (the drift benchmark of docs/drift.md), run on this run's cluster: `dbtool snapshot` and
`dbtool drift` on the migrated schema, and on the same schema with 1,000 extra tables (each with columns,
a default, a CHECK, an index, RLS and a policy).

""" + r["drift"]


def _refresh(r: dict) -> str:
    rows = ["| materialized view | from rows | view rows | CONCURRENTLY | plain REFRESH | ratio | IQR (min–max) |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for x in r["refresh"]:
        rows.append(f"| {x['view']} | {x['source_rows']:,} | {x['rows']:,} | {_pair_cells(x['pair'])} |")
    return f"""## 5. Materialized view refresh

`REFRESH MATERIALIZED VIEW CONCURRENTLY` (what the pg_cron jobs run: readers are not blocked) against a
plain `REFRESH` (an exclusive lock for the duration), alternately, each after a VACUUM of the view,
{r['refresh'][0]['pair'].as_dict()['runs']} runs each, on the {r['scale'].tenants[1]:,}-tenant database:

""" + "\n".join(rows) + """

CONCURRENTLY computes the new contents, then diffs them against the old with a full join on the
unique index and applies the difference; pipeline_analytics stamps every row with `now()`
(calculated_at), so every row changes on every refresh and the diff rewrites all of them."""


def _method(r: dict) -> str:
    s = r["scale"]
    return f"""## How the figures are made

- `bench/` (`python -m bench`): a throwaway cluster (`bench/cluster.py`), two databases migrated with
  dbtool (pg_cron jobs not scheduled, so no job runs during the measurements), seeded with
  `dbtool seed --seed bench`, materialized views refreshed, VACUUM (ANALYZE), CHECKPOINT; then each
  section in turn.
- A comparison runs A and B alternately, B first every other time (`bench/timing.py`); each run of a
  query is a batch of executions lasting about {s.target_s * 1000:.0f} ms (same count on both sides), so
  the timer's resolution does not matter; the first batch of each side is a warm-up and not counted.
- Reproduce: `{r['command']}` (it rewrites this file)."""


def _changes() -> str:
    return "## Schema changes made for these figures\n\n" + notes.CHANGES


def _plans(r: dict) -> str:
    out = ["## Plans\n\nEXPLAIN (ANALYZE, BUFFERS) of each query of section 1 on the "
           f"{r['scale'].tenants[1]:,}-tenant database, captured with auto_explain after the measurements "
           "(so a function's body shows as its own plan, after the call)."]
    for x in r["rls"]:
        plans = [(who, x["plans"][side]) for side, who in (("app", "as maplatform_app, under RLS"),
                                                           ("owner", "as the superuser, filter by hand"))]
        plans += [(f"{v['title']}, as maplatform_app", v["plan"]) for v in x["variants"]]
        for who, plan in plans:
            body = "\n\n".join(plan) or "(no plan captured)"
            out.append(f"<details><summary>{x['query'].key}: {who}</summary>\n\n```\n{body}\n```\n\n</details>")
    return "\n\n".join(out)
