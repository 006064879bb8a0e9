"""`python -m bench.citus_nodes --citus BINDIR`: a tenant's queries on a Citus coordinator with two workers
against one plain PostgreSQL server, side by side, on the same data (docs/citus.md, "Measured: a tenant's
queries on three nodes against one").

    python -m bench.citus_nodes --citus /opt/pg-citus/usr/lib/postgresql/15/bin   # about 5 minutes

Both sides from the one prefix BINDIR (the same PostgreSQL build), every node on 127.0.0.1 (TCP, the
client's connections too), the settings of bench/cluster.py's loopback nodes: (a) one server without
Citus, (b) a coordinator and two workers (bench/cluster.py, as bench/policy_forms.py starts them). Each
database is migrated to 0018, seeded by the project's generator with the same scale, seed and date (the
same rows), and migrated to head: on the coordinator 0039 distributes every tenant table (32 shards), as
it does a populated database (docs/citus.md). Then the materialized view refreshed and every table
analyzed on both.

The application as docs/citus.md has it on Citus, the same on both servers: a login of maplatform_app,
each execution a transaction that sets the verified tenant with `set_tenant_context(token)` and runs the
query, which names its tenant (tenant_named: the hand-written form's `tenant_id = %(tenant)s` beside the
policy, or the function that names the verified tenant itself). Each query interleaved on the two
servers (bench/timing.py: A B, B A, ...), five tenants in turn; the figure is the median of the
per-repetition ratios Citus / one node, with their IQR and range. On the Citus side: the Task Count of
its plan (EXPLAIN; a function call has none at the top), and the shard groups the commands sent to the
workers read (citus.log_remote_commands, the functions' statements included), both for the last tenant;
and whether both servers return the same rows for each of the five tenants.

What this machine shows: three nodes on one 2-core machine measure what routing a query through a
coordinator costs (planning for the shards, a loopback connection to a worker, the worker's own
execution and the rows back), not what a cluster of machines gains by spreading tenants over them."""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from dbtool import config

from . import cluster
from .queries import QUERIES, Query
from .run import ROOT, log, migrate_cmd, seed_cmd
from .sessions import Tenant, add_key, sample_tenants
from .timing import Pair, interleave

SEEDED_AT = "0018_move_activity_timeline_private"  # the first version the seed fills (its private timeline)
APP_LOGIN = "bench_app"
DEFAULT_TENANTS, DEFAULT_DEALS = 100, 20  # 2,000 deals, 20,000 timeline events: 10-15 s on one server, 45-70 s on the coordinator (0039 copies the rows) here

# Functions of the application that name the verified tenant themselves (docs/citus.md's table: each of
# them reads one shard): their call is the application's query as it is.
TENANT_NAMING_CALL = re.compile(r"\bFROM\s+public\.(get_deal_pipeline|search_documents|match_documents|"
                                r"latest_activity)\(")
ANALYTICS_VIEW = "public.tenant_pipeline_analytics"


def tenant_named(q: Query) -> str:
    """The application's text of a documented query with its tenant named, as docs/citus.md asks of the
    application on Citus: a call of a function that names the verified tenant itself as it is; a query of
    the tenant tables in the hand-written form (the policy's condition `tenant_id = %(tenant)s` written out:
    the same rows under the policy); the summary view (a materialized view on the coordinator) with the
    tenant's condition added."""
    if TENANT_NAMING_CALL.search(q.app):
        return q.app
    if ANALYTICS_VIEW in q.app:
        return q.app.replace(ANALYTICS_VIEW, f"{ANALYTICS_VIEW} WHERE tenant_id = %(tenant)s")
    if "%(tenant)s" not in q.owner or "FROM public.pipeline_analytics" in q.owner:
        raise ValueError(f"{q.key}: no form of it names the tenant")
    return q.owner


def task_count(plan: list[str]) -> int | None:
    """`Task Count: N` of a Citus plan (EXPLAIN's lines); None when the plan has none (a function call or
    a query of the coordinator's own tables)."""
    counts = [int(m.group(1)) for line in plan for m in [re.search(r"Task Count: (\d+)", line)] if m]
    return sum(counts) if counts else None


SHARD_NAME = re.compile(r"\b([a-z_]+)_([0-9]{6,})\b")


def shard_groups(commands: list[str], shard_range: dict[str, int]) -> set[int]:
    """The shard groups (their hash ranges' lower bounds, the same in every co-located table) the commands
    Citus sent to the workers read; shard_range: shard id -> its range's lower bound."""
    return {shard_range[m.group(2)] for text in commands if text.startswith("issuing ")
            for m in SHARD_NAME.finditer(text) if m.group(2) in shard_range}


# Columns whose value is the moment a server computed the row: pipeline_analytics' refresh time
# (now() at REFRESH), which cannot be the same on two servers refreshed one after the other.
MOMENT_COLUMNS = frozenset({"calculated_at"})


def comparable(rows: list[tuple], columns: list[str]) -> list[str]:
    """Rows as sorted text, the MOMENT_COLUMNS left out: what two servers' answers are compared by."""
    keep = [i for i, name in enumerate(columns) if name not in MOMENT_COLUMNS]
    return sorted(repr(tuple(row[i] for i in keep)) for row in rows)


def summary(p: Pair) -> dict:
    """Median ratio A/B with its IQR and range, and each side's median time per execution."""
    lo, hi = p.iqr()
    diff, diff_lo, diff_hi = p.difference_us()
    return {"ratio": p.ratio, "iqr": (lo, hi), "min": min(p.ratios), "max": max(p.ratios),
            "a_ms": p.ms("a"), "b_ms": p.ms("b"), "diff_ms": (diff / 1000, diff_lo / 1000, diff_hi / 1000),
            "runs": len(p.a), "executions": p.executions}


@dataclass
class TenantTransactions:
    """A timing.Side: the application's login runs the query as it must on Citus, each execution a
    transaction that sets the tenant's verified context first (set_tenant_context), the tenant rotating
    with the repetition. A token is registered in a statement of its own before its first transaction
    (docs/citus.md: until that commits, the workers know no such token), in prepare: not timed."""
    conn: psycopg.Connection
    text: str
    tenants: list[Tenant]

    def __post_init__(self) -> None:
        self.registered: set[str] = set()

    def use(self, tenant: Tenant) -> None:
        self.tenant, self.token = tenant, tenant.token
        if self.token not in self.registered:
            self.conn.execute("SELECT public.set_tenant_context(%s)", [self.token])
            self.registered.add(self.token)

    def prepare(self, rep: int) -> None:
        self.use(self.tenants[rep % len(self.tenants)])

    def params(self) -> dict:
        return {"tenant": self.tenant.id, "vector": self.tenant.vector}

    def batch(self, n: int) -> None:
        params = self.params()
        for _ in range(n):
            with self.conn.transaction():
                self.conn.execute("SELECT public.set_tenant_context(%s)", [self.token])
                self.conn.execute(self.text, params).fetchall()

    def rows(self) -> list[str]:
        """The rows of one execution, sorted, without the columns that record when a server computed them."""
        with self.conn.transaction():
            self.conn.execute("SELECT public.set_tenant_context(%s)", [self.token])
            cur = self.conn.execute(self.text, self.params())
            return comparable(cur.fetchall(), [d.name for d in cur.description])

    def explain(self) -> list[str]:
        """EXPLAIN in a transaction of its own (docs/citus.md: after the query, in the same transaction,
        Citus refused it)."""
        with self.conn.transaction():
            self.conn.execute("SELECT public.set_tenant_context(%s)", [self.token])
            return [r[0] for r in self.conn.execute("EXPLAIN " + self.text, self.params())]

    def remote_commands(self) -> list[str]:
        """What Citus sends to the workers for one execution (citus.log_remote_commands)."""
        notices: list[str] = []
        handler = lambda d: notices.append(d.message_primary or "")  # noqa: E731
        self.conn.add_notice_handler(handler)
        try:
            with self.conn.transaction():
                self.conn.execute("SELECT public.set_tenant_context(%s)", [self.token])
                self.conn.execute("SET LOCAL citus.log_remote_commands = on")
                notices.clear()
                self.conn.execute(self.text, self.params()).fetchall()
                sent = list(notices)
        finally:
            self.conn.remove_notice_handler(handler)
        return sent


def prepare(url: str, project, tenants: int, deals: int, as_of: datetime.date) -> dict:
    """Migrated to 0018, seeded, migrated to head (0039 distributes on a coordinator), the summary view
    refreshed, every table analyzed, the run's signing key and the application's login added."""
    started = time.perf_counter()
    migrate_cmd.migrate(url, project, to=SEEDED_AT, sync_cron=False)
    res = seed_cmd.seed(url, seed_cmd.Scale(tenants, deals, seed="bench", as_of=as_of), jobs=2)
    migrate_cmd.migrate(url, project, sync_cron=False)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SELECT ops.refresh_pipeline_analytics()")
        c.execute("ANALYZE")
        add_key(c)
        c.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE maplatform_app").format(sql.Identifier(APP_LOGIN)))
        counts = dict(c.execute("""SELECT t, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %s', t),
                                                                               false, true, '')))[1]::text::bigint
                                   FROM unnest(ARRAY['public.tenants', 'public.deals', 'public.documents',
                                                     'timeline.activity_timeline']) AS t""").fetchall())
    return {"seed_load_s": res.load_seconds, "total_s": time.perf_counter() - started,
            "counts": counts}


def citus_layout(url: str) -> dict:
    with psycopg.connect(url, autocommit=True) as c:
        kinds = dict(c.execute("SELECT citus_table_type, count(*) FROM citus_tables GROUP BY 1").fetchall())
        shards = c.execute("""SELECT count(DISTINCT s.shardid) FROM pg_dist_shard AS s
                              WHERE s.logicalrelid = 'public.deals'::regclass""").fetchone()[0]
        ranges = {str(shard): low for shard, low in c.execute("""
            SELECT s.shardid, s.shardminvalue::int FROM pg_dist_shard AS s JOIN pg_dist_partition AS p USING (logicalrelid)
            WHERE p.partmethod = 'h'""")}
        version = c.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'").fetchone()[0]
    return {"tables": kinds, "shards": shards, "shard_range": ranges, "citus": version}


def measure(bindir, tenants: int, deals: int, runs: int, target_s: float, keep: bool = False) -> dict:
    project = config.load(ROOT)
    as_of = datetime.datetime.now(datetime.timezone.utc).date()
    started = time.perf_counter()
    with cluster.loopback_nodes(bindir, ["coordinator", "worker1", "worker2"], citus=True, keep=keep) as ports, \
            cluster.loopback_nodes(bindir, ["one"], citus=False, keep=keep) as (one_port,):
        url_one = cluster.loopback_url(one_port, "postgres")
        with psycopg.connect(url_one, autocommit=True) as c:
            c.execute("CREATE DATABASE bench")
        url_one = cluster.loopback_url(one_port, "bench")
        url_citus = cluster.citus_database(ports, "bench")
        log(f"one node: migrating, seeding {tenants:,} tenants x {deals} deals, migrating to head")
        prep = {"one": prepare(url_one, project, tenants, deals, as_of)}
        log(f"  {prep['one']['total_s']:.0f} s")
        log("Citus: the same on the coordinator (0039 distributes the seeded tables)")
        prep["citus"] = prepare(url_citus, project, tenants, deals, as_of)
        log(f"  {prep['citus']['total_s']:.0f} s")
        layout = citus_layout(url_citus)
        if not layout["tables"].get("distributed"):
            raise RuntimeError("the coordinator has no distributed table: the migrations lack 0039")
        sampled = sample_tenants(url_one)
        if (prep["one"]["counts"] != prep["citus"]["counts"]
                or [t.id for t in sample_tenants(url_citus)] != [t.id for t in sampled]):
            raise RuntimeError(f"the two databases do not hold the same data: {prep}")
        conns = [psycopg.connect(cluster.loopback_url(p, "bench", APP_LOGIN), autocommit=True, prepare_threshold=None)
                 for p in (ports[0], one_port)]
        try:
            out = []
            for q in QUERIES:
                text = tenant_named(q)
                log(f"  {q.key}")
                citus_side, one_side = (TenantTransactions(c, text, sampled) for c in conns)
                pair = interleave(citus_side, one_side, runs, target_s)
                rows_citus, rows_one = [], []
                for t in sampled:  # every sampled tenant's answer, on each server
                    citus_side.use(t)
                    one_side.use(t)
                    rows_citus += citus_side.rows()
                    rows_one += one_side.rows()
                groups = shard_groups(citus_side.remote_commands(), layout["shard_range"])
                out.append({"key": q.key, "title": q.title, "text": text, **summary(pair),
                            "tasks": task_count(citus_side.explain()), "shard_groups": len(groups),
                            "same_rows": rows_citus == rows_one, "rows": (len(rows_citus), len(rows_one))})
            with psycopg.connect(url_one, autocommit=True) as c:
                postgres = c.execute("SHOW server_version").fetchone()[0]
        finally:
            for c in conns:
                c.close()
    return {"queries": out, "prepare": prep, "layout": {k: v for k, v in layout.items() if k != "shard_range"},
            "postgres": postgres, "tenants": tenants, "deals": deals, "runs": runs, "target_s": target_s,
            "as_of": as_of, "seconds": time.perf_counter() - started, "load": _load()}


def _load() -> str:
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


def table(r: dict) -> str:
    rows = ["| query | Citus / one node: median (IQR) | min–max | time per execution: Citus, one node "
            "| Citus − one node (IQR) | Citus plan: Task Count | shard groups read | same rows |",
            "|---|---|---|---|---|---|---|---|"]
    for x in r["queries"]:
        lo, hi = x["iqr"]
        tasks = "—" if x["tasks"] is None else str(x["tasks"])
        same = "yes" if x["same_rows"] else "**no**"
        n = x["rows"][0] if x["rows"][0] == x["rows"][1] else f"{x['rows'][0]} vs {x['rows'][1]}"
        rows.append(f"| {x['key']} | **{x['ratio']:.2f}x** ({lo:.2f}–{hi:.2f}) | {x['min']:.2f}–{x['max']:.2f} "
                    f"| {x['a_ms']:.2f}, {x['b_ms']:.2f} ms | {_diff(x['diff_ms'])} | {tasks} | {x['shard_groups']} | {same} ({n}) |")
    return "\n".join(rows)


def _diff(d: tuple[float, float, float]) -> str:
    return f"{d[0]:+.2f} ms ({d[1]:+.2f}–{d[2]:+.2f})"


def header(r: dict) -> str:
    lay = r["layout"]
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(lay["tables"].items()))
    return (f"PostgreSQL {r['postgres']}, Citus {lay['citus']} (coordinator and two workers on 127.0.0.1; "
            f"{kinds} tables, {lay['shards']} shards) against one server of the same build; "
            f"{r['tenants']:,} tenants x {r['deals']} deals seeded on each ({r['as_of']}); {r['runs']} interleaved "
            f"repetitions per query, five tenants in turn; medians of the per-repetition ratios; rows: the five tenants' together. "
            f"Load average at the end: {r['load']}.")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.citus_nodes", description=__doc__.splitlines()[0])
    ap.add_argument("--citus", metavar="BINDIR", help="bin folder of a PostgreSQL 15 prefix with Citus installed "
                    "(both sides start from it)")
    ap.add_argument("--tenants", type=int, default=DEFAULT_TENANTS)
    ap.add_argument("--deals-per-tenant", type=int, default=DEFAULT_DEALS)
    ap.add_argument("--runs", type=int, default=31, help="interleaved repetitions per query (default %(default)s)")
    ap.add_argument("--target", type=float, default=0.1, help="seconds per timed batch (default %(default)s)")
    ap.add_argument("--keep", action="store_true", help="keep the nodes' folders (their logs) after the run")
    args = ap.parse_args(argv)
    if not args.citus:
        print("bench.citus_nodes: skipped, no Citus build given (--citus BINDIR, e.g. "
              "/opt/pg-citus/usr/lib/postgresql/15/bin)")
        return
    r = measure(Path(args.citus), args.tenants, args.deals_per_tenant, args.runs, args.target, args.keep)
    print(header(r) + "\n")
    print(table(r))
    print(f"\nprepared: one node {r['prepare']['one']['total_s']:.0f} s, Citus {r['prepare']['citus']['total_s']:.0f} s; "
          f"row counts {r['prepare']['one']['counts']} / {r['prepare']['citus']['counts']}")
    log(f"done in {r['seconds']:.0f} s")
    if not all(x["same_rows"] for x in r["queries"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
