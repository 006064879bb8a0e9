"""docs/benchmarks.md from one run's results: every figure with its goal, met or not, and why not."""

from __future__ import annotations

from pathlib import Path

from dbtool import config
from dbtool.commands import seed as seed_loader

from . import load, notes, plots, timeline

ROOT = Path(__file__).resolve().parent.parent
seed_cmd = seed_loader.generator(config.load(ROOT))  # seed/generate.py, loaded as `dbtool seed` loads it

RLS_GOAL, SCALING_GOAL, TOOL_GOAL = 1.15, 1.3, 1.5
COMMUNITY_BINDIR = "/opt/pg-community/usr/lib/postgresql/15/bin"
LOOKUP_ROW = "superuser + token lookup: the policies' sub-select in place of $1, no RLS"


def _x(v: float) -> str:
    return f"{v:.2f}x"


def _ms(v: float) -> str:
    return f"{v:.3f} ms" if v < 1 else f"{v:.1f} ms" if v < 100 else f"{v:,.0f} ms"


def _spread(p) -> str:
    d = p.as_dict()
    return f"{d['iqr'][0]:.2f}–{d['iqr'][1]:.2f} ({d['min']:.2f}–{d['max']:.2f})"


def _verdict(ratio: float, goal: float) -> str:
    return "met" if ratio <= goal else "**missed**"


def render(r: dict, others: list[dict] | tuple = (), load_run: dict | None = None, charts_dir=None) -> str:
    """The report of run r; others: runs on the other TimescaleDB edition (same scale), whose timeline
    section (7) is added beside r's; load_run: a `python -m bench.load` run, section 8 (its own command
    and cluster, named in it); charts_dir: where to draw the charts the report shows (bench/plots.py;
    None: no charts)."""
    others = [o for o in others if o.get("edition") != r.get("edition") and "timeline" in o]
    parts = [_header(r, others), _summary(r, others, load_run), plots.section(r, others, load_run, charts_dir),
             _machine(r), _seed(r), _rls(r), notes.RLS_BEFORE_AFTER, notes.POLICY_FORMS, notes.CITUS_NODES, _context(r),
             _scaling(r), _tool(r), _drift(r), _refresh(r), _timeline(r, others), load.section(load_run),
             _method(r, others), _changes(), _plans(r, others)]
    return "\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def _edition(run: dict) -> str:
    return timeline.edition_name(run.get("edition", "apache"))


def _header(r: dict, others: list[dict]) -> str:
    s = r["scale"]
    few, many = s.tenants
    also = ""
    if others:
        also = "".join(
            f" Section 7 also gives the timeline on the **{_edition(o)} edition** of TimescaleDB, from a run of "
            f"the same scale on {o['finished']:%Y-%m-%d %H:%M} UTC (commit {o['machine']['commit']}, "
            f"`{_command(o)}`); its other sections are not repeated here." for o in others)
    return f"""# Benchmarks

Written by `{_command(r)}` on {r['finished']:%Y-%m-%d %H:%M} UTC in {r['wall_seconds'] / 60:.1f} minutes
(commit {r['machine']['commit']}), on the **{_edition(r)} edition** of TimescaleDB
({r['machine']['extensions'].get('timescaledb', '?')}): sections 1 to 7 come from that run.{also}
Scale **{s.name}**: {many:,} tenants x {s.deals_per_tenant:,} deals
({many * s.deals_per_tenant:,} deals, {many * s.deals_per_tenant * seed_cmd.EVENTS_PER_DEAL:,} timeline
events, plus one tenant with {timeline.SKEW_FACTOR} times the median tenant's events; database
{r['sizes']['database']}), and {few:,} tenants of the same size for the scaling comparison.
Every figure is a **ratio of two things measured side by side in this run**, interleaved (A B, B A, A B, ...)
so that the machine's noise hits both; absolute times are given for orientation only. Median of
{s.runs} repetitions (queries), spread as interquartile range and (min–max) of the per-repetition ratios.
`make bench` runs the small scale in a few minutes; `make bench-full` the full scale
(1,000,000 deals, 10,000,000 timeline events). The community edition's run is the same command with
`PG_BINDIR={COMMUNITY_BINDIR}`; each run keeps its figures in `bench-results/`, and the report includes
the other edition's timeline section from there (see "How the figures are made")."""


def _command(run: dict) -> str:
    cmd = run["command"]
    if run.get("edition") == timeline.COMMUNITY and run.get("pg_bindir"):
        return f"PG_BINDIR={run['pg_bindir']} {cmd}"
    return cmd


def _summary(r: dict, others: list[dict], load_run: dict | None = None) -> str:
    rows = ["| figure | goal | measured (median) | IQR | verdict |", "|---|---|---:|---|---|"]

    def row(figure: str, goal: float | None, p) -> None:
        lo, hi = p.iqr()
        verdict = _verdict(p.ratio, goal) if goal else "—"
        rows.append(f"| {figure} | {f'≤ {goal}x' if goal else '(none)'} | {_x(p.ratio)} | {lo:.2f}–{hi:.2f} | {verdict} |")

    for x in r["rls"]:
        row(f"1. RLS cost: {x['query'].key}", RLS_GOAL, x["pair"])
    for x in r.get("context", []):
        if not x["title"].startswith("↳"):
            row(f"2. set_tenant_context(token) vs set_config: {x['key']}", None, x["pair"])
    for x in r["scaling"]:
        row(f"3. tenant scaling: {x['query'].key}", SCALING_GOAL, x["pair"])
    for figure, goal, p in _tool_rows(r):
        row(figure, goal, p)
    for x in r["refresh"]:
        row(f"6. REFRESH CONCURRENTLY vs plain: {x['view']}", None, x["pair"])
    for run in [r, *others]:
        for x in run.get("timeline", {}).get("rows", []):
            if x["goal"]:
                row(f"7. timeline ({_edition(run)}): {x['query'].key}, {x['size']} tenant", x["goal"], x["pair"])
    rows += load.summary_rows(load_run)
    missed = _missed(r, others) + load.missed(load_run)
    text = "## Summary\n\n" + "\n".join(rows)
    if missed:
        common = [c for prefix, c in notes.COMMON.items() if any(k.startswith(prefix) for k, _ in missed)]
        text += "\n\n### Goals not met\n\n" + "".join(f"{c}\n\n" for c in common) + "\n".join(
            f"- **{k}** ({v}): {notes.why(k)}" for k, v in missed)
    else:
        text += "\n\nEvery goal is met."
    return text


def _missed(r: dict, others: list[dict] = ()) -> list[tuple[str, str]]:
    out = [(f"rls.{x['query'].key}", _x(x["pair"].ratio)) for x in r["rls"] if x["pair"].ratio > RLS_GOAL]
    out += [(f"scaling.{x['query'].key}", _x(x["pair"].ratio)) for x in r["scaling"] if x["pair"].ratio > SCALING_GOAL]
    out += _tool_missed(r)
    for run in [r, *others]:
        for x in run.get("timeline", {}).get("rows", []):
            if x["goal"] and x["pair"].ratio > x["goal"]:
                out.append((f"timeline.{run['edition']}.{x['query'].key}.{x['size']}", _x(x["pair"].ratio)))
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

The shape, per tenant and per deal (`seed/generate.py`, the project's generator that `[tool.dbtool] seed`
names; `--deals-per-tenant` scales everything):

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
            title = LOOKUP_ROW if v.get("lookup") else v["title"]
            rows.append(f"| ↳ *{title}* | {_pair_cells(v['pair'])} | {v['rows']} / {x['rows_owner']} "
                        f"| | (for comparison) |")
    return """## 1. Row-level security cost

Each query as the application runs it (role `maplatform_app`, NOLOGIN, reached with `SET ROLE`),
with the verified tenant context of 0017: the benchmark plays the application's trusted side, adds a
signing key once (`app.add_tenant_key`), mints a token per tenant with `dbtool.tenant_token`
(`TokenCache`, 15-minute tokens) and sets it with `set_tenant_context_for_session(token)`; the policies
then find the tenant with `(SELECT app.verified_tenant())`, a SECURITY DEFINER PL/pgSQL function that
looks the token's SHA-256 up in `app.tenant_tokens` (an InitPlan, once per statement). Against
the same query run by the superuser (who bypasses row-level security) with `tenant_id = $1` written by
hand; the `maplatform_owner` role cannot serve as the comparison because row-level security is forced
on it too. The tenant rotates over five tenants spread over the tenant list; per execution: parse,
plan, execute, fetch (no prepared statements). pipeline_analytics is read through the view the schema
gives the application, tenant_pipeline_analytics; the timeline through `latest_activity()` (0018), the
application's way to its newest events, against the hand-written query on the private hypertable
`timeline.activity_timeline`. Rows marked ↳ are other ways of writing the same query, measured the same
way against the same hand-written form, to show where a difference comes from; they have no goal.
The last ↳ row of each query, "superuser + token lookup", is the superuser's hand-written query with
the tenant found the way the policies find it instead of given: `tenant_id = (SELECT
app.verified_tenant())` in place of `$1`, so no row-level security, only the lookup. Time per execution (median):

""" + "\n".join(rows) + _server_times(r)


def _server_times(r: dict) -> str:
    if not all("server" in x for x in r["rls"]):
        return ""
    n = r["scale"].runs * 10
    rows = ["| query | planning: app | by hand | by hand + lookup | execution: app | by hand | by hand + lookup |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for x in r["rls"]:
        t = x["server"]
        rows.append(f"| {x['query'].key} | " + " | ".join(
            _us(t[k][m]) for m in ("planning_ms", "execution_ms") for k in ("app", "owner", "lookup")) + " |")
    return f"""

Where the time goes, by the server's own account: median planning and execution time reported by
`EXPLAIN (ANALYZE, TIMING OFF, SUMMARY)` for the application's query, the hand-written one, and the
hand-written one with the policies' token lookup in place of `$1` ("+ lookup"), {n} of each, taken in
turn. What the client measures above also holds parsing, the round trip and fetching. For a function
call (pipeline, search, vector, timeline) the planning is the call's only; its body is planned and run
inside its execution.

""" + "\n".join(rows)


def _context(r: dict) -> str:
    if "context" not in r:
        return ""
    rows = ["| per transaction | set_tenant_context(token) | set_config(same token) | ratio | IQR (min–max) "
            "| difference: median (IQR) |", "|---|---:|---:|---:|---|---|"]
    for x in r["context"]:
        p = x["pair"]
        d, lo, hi = p.difference_us()
        title = f"↳ *{x['title'][2:]}*" if x["title"].startswith("↳") else x["title"]
        rows.append(f"| {title} | {_pair_cells(p)} | {d:+.0f} µs ({lo:+.0f} to {hi:+.0f}) |")
    same = "yes" if r["context"][0].get("same_tenant") else "**no**"
    return f"""## 2. The verified tenant context: its cost per transaction

What the application pays to set its tenant: `SELECT set_tenant_context(token)` with a registered token
(the common case: a token is registered by its first use and then reused for its 15 minutes), against
`SELECT set_config('app.tenant_token', token, true)` of the same token, the least any way of setting
it could cost (it checks nothing; with a registered token it reaches the same rows: {same}). As
`maplatform_app`, the five tenants rotating, interleaved like every figure here. It is paid once per
transaction (`set_tenant_context` is transaction-local), never per statement: what each statement pays
for row-level security is in section 1. The difference column is the median of the per-repetition
differences of the two sides (each repetition measures both, side by side).

""" + "\n".join(rows) + """

The call is a SQL function calling the SECURITY DEFINER PL/pgSQL `app.use_tenant_token`: the token's
SHA-256, a primary-key lookup in `app.tenant_tokens`, `set_config`. Only a token's first use verifies
it (HMAC-SHA256 with the key from `app_private.tenant_keys`, expiry) and registers it, an INSERT that
makes the transaction commit a write (the ↳ row); with the default 15-minute tokens that is once per
tenant per 15 minutes per application process."""


def _scaling(r: dict) -> str:
    few, many = r["scale"].tenants
    rows = [f"| query | {many:,} tenants | {few:,} tenants | ratio | IQR (min–max) | goal ≤ 1.3x |",
            "|---|---:|---:|---:|---|---|"]
    for x in r["scaling"]:
        rows.append(f"| {x['query'].title} | {_pair_cells(x['pair'])} | {_verdict(x['pair'].ratio, SCALING_GOAL)} |")
    return f"""## 3. Tenant scaling

The same queries as the application (RLS, verified tenant context) in two databases of the same cluster,
one with {many:,} tenants and one with {few:,}, every tenant of the same size ({r['scale'].deals_per_tenant:,}
deals; the {many:,}-tenant database also holds section 7's large tenant, which is none of the five measured):
what one tenant pays for the others being there.

""" + "\n".join(rows)


def _startup_figure(x: dict) -> str:
    return f"4. {x['title'].split(' (')[0]} vs `{x['against']}`"


def _tool_rows(r: dict) -> list[tuple[str, float | None, object]]:
    """Section 4's summary rows: start-up (the rows with a goal), then migrate against psql."""
    rows = [(_startup_figure(x), x["goal"], x["pair"]) for x in r["tool"].get("startup", []) if x["goal"]]
    return rows + [("4. dbtool migrate vs psql", TOOL_GOAL, r["tool"]["pair"])]


def _tool_missed(r: dict) -> list[tuple[str, str]]:
    out = [(f"tool.{x['key']}", _x(x["pair"].ratio)) for x in r["tool"].get("startup", [])
           if x["goal"] and x["pair"].ratio > x["goal"]]
    if r["tool"]["pair"].ratio > TOOL_GOAL:
        out.append(("tool", _x(r["tool"]["pair"].ratio)))
    return out


def tool_only(r: dict) -> str:
    """Section 4 alone (`python -m bench --only tool`): its summary rows, why a goal was missed, the section."""
    rows = ["| figure | goal | measured (median) | IQR | verdict |", "|---|---|---:|---|---|"]
    for figure, goal, p in _tool_rows(r):
        lo, hi = p.iqr()
        rows.append(f"| {figure} | ≤ {goal}x | {_x(p.ratio)} | {lo:.2f}–{hi:.2f} | {_verdict(p.ratio, goal)} |")
    missed = "\n".join(f"- **{k}** ({v}): {notes.why(k)}" for k, v in _tool_missed(r))
    return "\n\n".join(p for p in ("\n".join(rows), missed, _tool(r)) if p) + "\n"


def _startup(t: dict) -> str:
    if "startup" not in t:
        return ""
    rows = ["| command | dbtool | against | its time | ratio | IQR (min–max) | goal |", "|---|---:|---|---:|---:|---|---|"]
    for x in t["startup"]:
        p = x["pair"]
        title = f"↳ *{x['title'][2:]}*" if x["title"].startswith("↳") else x["title"]
        goal = f"≤ {x['goal']}x: {_verdict(p.ratio, x['goal'])}" if x["goal"] else "(for comparison)"
        rows.append(f"| {title} | {_ms(p.ms('a'))} | `{x['against']}` | {_ms(p.ms('b'))} | **{_x(p.ratio)}** "
                    f"| {_spread(p)} | {goal} |")
    runs = t["startup"][0]["pair"].as_dict()["runs"]
    return f"""### Start-up

A DBA runs dbtool many times a day and in every CI step. Each command as a new process (the console
script `.venv/bin/dbtool`, its modules compiled as an installed package's are) against the least any
Python tool pays for the same: the bare interpreter (`python -c pass`, the same interpreter, with its
site-packages) for `--help` and usage errors, and for `status` the floor of any Python tool that talks to
PostgreSQL, `python -c "import psycopg; psycopg.connect(URL).close()"` on the same database (migrated to
head). Interleaved, {runs} repetitions, each a batch of runs of about 0.3 s; the environment has no
DATABASE_URL or PG* variable and its own cache folder (XDG_CACHE_HOME).

dbtool keeps what Typer printed for `--help`, or for a command line it refused before any command ran,
and prints it again on the next identical run without importing Typer, as long as nothing it depends on
changed (the command line, folder, environment, terminal, Python, dbtool's and Typer's modules and the
installed packages: dbtool/launch.py); the rows without ↳ measure such a run, the ↳ "first run" rows a run
with an empty cache, in which Typer renders the text (building only the command named on the command
line). A usage error dbtool itself finds (no database given, conflicting options) depends on files and the
environment and is never replayed.

""" + "\n".join(rows)


def _tool(r: dict) -> str:
    t = r["tool"]
    p = t["pair"]
    same = "identical" if not t["same_schema"] else "DIFFERENT: " + "; ".join(t["same_schema"][:10])
    cmds = "\n".join(f"    {c}" for c in t["psql"])
    return f"""## 4. Tool overhead: `dbtool migrate` against psql

From an empty database to head ({t['migrations']} migrations and the repeatable files), each run on a fresh
database, dbtool and psql alternately, {p.as_dict()['runs']} runs each:

| | dbtool | psql -1 | ratio | IQR (min–max) | goal ≤ 1.5x |
|---|---:|---:|---:|---|---|
| `dbtool migrate` (a new process) | {_pair_cells(p)} | {_verdict(p.ratio, TOOL_GOAL)} |
{_in_process(t)}

`dbtool migrate --quiet --database-url ...` as a new process (Python start-up included), which also
takes its advisory lock, writes its ledger (a record and a checksum per migration and repeatable file),
runs each migration in its own transaction, and reconciles pg_cron jobs; psql applies the same files, each
run of transactional files in one transaction (`-1`), `RESET ALL; RESET ROLE` between two files of a run so
that no file's `SET LOCAL` (its role) reaches the next, as dbtool's transaction per file ensures:

{cmds}

The two databases' catalog snapshots (dbtool's bookkeeping schema and pg_cron jobs aside) are {same}.

{_startup(t)}"""


def _in_process(t: dict) -> str:
    if "in_process" not in t:
        return ""
    return (f"| ↳ *dbtool's migrate() called in-process: the same work without a Python start-up* "
            f"| {_pair_cells(t['in_process'])} | (for comparison) |")


def _drift(r: dict) -> str:
    return """## 5. Drift and snapshot cost

`bench/drift.py` (the drift benchmark of docs/drift.md), run on this run's cluster: `dbtool snapshot` and
`dbtool drift` on the migrated schema, and on the same schema with 1,000 extra tables (each with columns,
a default, a CHECK, an index, RLS and a policy).

""" + r["drift"]


def _refresh(r: dict) -> str:
    rows = ["| materialized view | from rows | view rows | CONCURRENTLY | plain REFRESH | ratio | IQR (min–max) |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for x in r["refresh"]:
        rows.append(f"| {x['view']} | {x['source_rows']:,} | {x['rows']:,} | {_pair_cells(x['pair'])} |")
    cagg = ""
    if r.get("edition") == timeline.COMMUNITY:
        cagg = ("\n\nOn this edition timeline.daily_activity_summary is a continuous aggregate, refreshed by its "
                "policy for the days whose events changed: not a materialized view, so not here (section 7 "
                "gives the time of its first, complete refresh).")
    return f"""## 6. Materialized view refresh

`REFRESH MATERIALIZED VIEW CONCURRENTLY` (what the pg_cron jobs run: readers are not blocked) against a
plain `REFRESH` (an exclusive lock for the duration), alternately, each after a VACUUM of the view,
{r['refresh'][0]['pair'].as_dict()['runs']} runs each, on the {r['scale'].tenants[1]:,}-tenant database:

""" + "\n".join(rows) + """

CONCURRENTLY computes the new contents, then diffs them against the old with a full join on the
unique index and applies the difference; pipeline_analytics stamps every row with `now()`
(calculated_at), so every row changes on every refresh and the diff rewrites all of them.""" + cagg


def _timeline(r: dict, others: list[dict]) -> str:
    runs = sorted([x for x in [r, *others] if "timeline" in x], key=lambda x: x.get("edition") != "apache")
    if not runs:
        return ""
    d = r["timeline"]["data"]["skew"] if "timeline" in r else runs[0]["timeline"]["data"]["skew"]
    intro = f"""## 7. The timeline on a skewed data set, per TimescaleDB edition

Since 0018 the application reads activity_timeline through `public.activity_timeline`, a security_barrier
view over the private hypertable `timeline.activity_timeline` (tenant filter `tenant_id =
(SELECT app.verified_tenant())`, or `= ANY (ARRAY[...])` on TimescaleDB before 2.25.2: docs/timescaledb.md), and its newest events through `public.latest_activity(since, max_rows)`
(PL/pgSQL, SECURITY DEFINER). After `dbtool seed`, one tenant of the {d['tenants']:,} gets
{timeline.SKEW_FACTOR} times the median tenant's events: {d['added']:,} extra events over the last
{timeline.SKEW_DAYS} days (in {d['seconds']:.1f} s), {d['large']:,} in all against a median of
{d['median']:,}; in the last 7 days it has {d['large_7d']:,} events and the median tenant {d['median_7d']:,}.
Each query runs for the small tenants (the five of section 1, rotating) and for the large one, as
`maplatform_app` with its verified token against the superuser's query on `timeline.activity_timeline`
(or `timeline.daily_activity_summary`) with `tenant_id = $1` by hand, interleaved. ↳ rows have no goal.
What the edition's jobs do was done before measuring, as a database in service would have it: on the
community edition the compression policy's job (`CALL run_job(<policy_compression>)`: chunks older than
7 days, segmentby tenant_id, orderby time DESC) and a complete refresh of the continuous aggregate
(`CALL refresh_continuous_aggregate('timeline.daily_activity_summary', NULL, NULL)`); on the Apache
edition, which has neither, `ops.refresh_daily_activity_summary()`. No TimescaleDB background job runs
in the benchmark's cluster (`timescaledb.max_background_workers = 0`)."""
    return "\n\n".join([intro] + [_timeline_edition(x, x is r) for x in runs] + [notes.TIMELINE])


def _timeline_edition(run: dict, this_run: bool) -> str:
    t = run["timeline"]
    m = t["data"]["maintenance"]
    letter = "a" if run.get("edition") == "apache" else "b"
    source = ("this run" if this_run else
              f"the run of {run['finished']:%Y-%m-%d %H:%M} UTC, commit {run['machine']['commit']}, "
              f"`{_command(run)}`")
    rows = ["| query | tenant | as maplatform_app | superuser, filter by hand | ratio | IQR (min–max) | rows "
            "| same rows | goal |", "|---|---|---:|---:|---:|---|---:|---|---|"]
    for x in t["rows"]:
        p = x["pair"]
        title = f"↳ *{x['query'].title[2:]}*" if x["query"].title.startswith("↳") else x["query"].title
        goal = f"≤ {x['goal']}x: {_verdict(p.ratio, x['goal'])}" if x["goal"] else "(for comparison)"
        rows.append(f"| {title} | {x['size']} | {_pair_cells(p)} | {x['rows_app']} / {x['rows_owner']} "
                    f"| {'yes' if x['same_rows'] else 'no'} | {goal} |")
    lines = [f"### 7{letter}. {_edition(run)} edition (TimescaleDB {run['machine']['extensions'].get('timescaledb', '?')}, "
             f"{source})", "\n".join(rows)]
    facts = [f"Days 8–30 span {t['range_chunks']} chunks, {t['range_compressed']} of them compressed."]
    if run.get("edition") == timeline.COMMUNITY:
        ratio = m["before_bytes"] / m["after_bytes"] if m["after_bytes"] else float("nan")
        facts.append(
            f"Compression (`hypertable_compression_stats`): {m['compressed_chunks']} of {m['chunks']} chunks, "
            f"{m['compressed_rows']:,} events, from {_mb(m['before_bytes'])} to {_mb(m['after_bytes'])} "
            f"(**{ratio:.1f}x** smaller; the whole hypertable {_mb(m['size_before'])} before, "
            f"{_mb(m['size_after'])} after). The compression job took **{m['compress_seconds']:.1f} s** "
            f"({m['compressed_rows'] / m['compress_seconds']:,.0f} events/s), and the continuous aggregate's "
            f"complete refresh {m['summary_seconds']:.1f} s ({m['summary_rows']:,} rows): absolute times of "
            "one run each on a shared machine, for orientation.")
    else:
        facts.append(
            "The Apache edition has no compression, so the range query reads ordinary chunks (its title says "
            f"so); the materialized view's refresh took {m['summary_seconds']:.1f} s ({m['summary_rows']:,} rows, "
            "one run, for orientation).")
    lines.append(" ".join(facts))
    if all("server" in x for x in t["rows"]):
        srows = ["| query | tenant | planning: app | by hand | by hand + lookup | execution: app | by hand "
                 "| by hand + lookup | EXPLAINs of each |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for x in t["rows"]:
            v = x["server"]
            srows.append(f"| {x['query'].key} | {x['size']} | " + " | ".join(
                _us(v[k][m]) for m in ("planning_ms", "execution_ms") for k in ("app", "owner", "lookup"))
                + f" | {v.get('n', '')} |")
        lines.append("The server's own account, as under section 1 (median planning and execution time of "
                     "`EXPLAIN (ANALYZE, TIMING OFF, SUMMARY)`; \"by hand + lookup\": the hand-written query with "
                     "the policies' token lookup in place of `$1`):\n\n" + "\n".join(srows))
    return "\n\n".join(lines)


def _us(ms: float) -> str:
    return f"{ms * 1000:,.0f} µs" if ms < 10 else f"{ms:,.1f} ms"


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f} MB"


def _method(r: dict, others: list[dict] = ()) -> str:
    s = r["scale"]
    order = [*others, r]  # the run that writes the file comes last
    runs = ", then ".join(f"`{_command(x)}`" for x in order)
    return f"""## How the figures are made

- `bench/` (`python -m bench`): a throwaway cluster (`bench/cluster.py`) of the binaries dbtool finds
  (`PG_BINDIR`, else Debian's PostgreSQL with the Apache edition of TimescaleDB), two databases migrated
  with dbtool (pg_cron jobs not scheduled, no TimescaleDB background job, so no job runs during the
  measurements), seeded with `dbtool seed --seed bench`, the large tenant's events added
  (`bench/timeline.py`), the edition's timeline jobs run, materialized views refreshed, VACUUM (ANALYZE),
  CHECKPOINT; then each section in turn.
- A comparison runs A and B alternately, B first every other time (`bench/timing.py`); each run of a
  query is a batch of executions lasting about {s.target_s * 1000:.0f} ms (same count on both sides), so
  the timer's resolution does not matter; the first batch of each side is a warm-up and not counted.
- Both editions: each run saves its figures in `bench-results/benchmarks-<scale>-<edition>.pickle`
  (git-ignored) and writes this file with the other edition's latest saved section 7 included, so the
  second run of the two writes the report with both; the sections other than 7 are those of the run
  that wrote the file, named at the top. `python -m bench --render MAIN.pickle [OTHER.pickle]` rewrites it
  from saved figures without measuring.
- Reproduce: {runs}{" (the second writes this file, with both editions)" if others else " (it rewrites this file)"}."""


def _changes() -> str:
    return "## Schema changes made for these figures\n\n" + notes.CHANGES


def _plans(r: dict, others: list[dict] = ()) -> str:
    out = ["## Plans\n\nEXPLAIN (ANALYZE, BUFFERS) of each query of section 1 on the "
           f"{r['scale'].tenants[1]:,}-tenant database, and of section 7's queries for the large tenant "
           "(and the range query for the first small tenant), "
           "captured with auto_explain after the measurements (so a function's body shows as its own plan, "
           "after the call)."]
    for x in r["rls"]:
        plans = [(who, x["plans"][side]) for side, who in (("app", "as maplatform_app, under RLS"),
                                                           ("owner", "as the superuser, filter by hand"))]
        plans += [(f"{v['title']}, as maplatform_app", v["plan"]) for v in x["variants"] if v["plan"]]
        for who, plan in plans:
            out.append(_details(f"{x['query'].key}: {who}", plan))
    for run in sorted([x for x in [r, *others] if "timeline" in x], key=lambda x: x.get("edition") != "apache"):
        for x in run["timeline"]["rows"]:
            for side, who in (("app", "as maplatform_app"), ("owner", "as the superuser, filter by hand")):
                if "plans" in x:
                    out.append(_details(f"timeline ({_edition(run)}), {x['size']} tenant, {x['query'].key}: {who}",
                                        x["plans"][side]))
    return "\n\n".join(out)


def _details(summary: str, plan: list[str]) -> str:
    body = "\n\n".join(plan) or "(no plan captured)"
    return f"<details><summary>{summary}</summary>\n\n```\n{body}\n```\n\n</details>"
