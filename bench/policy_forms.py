"""`python -m bench.policy_forms`: the RLS cost of the two forms a tenant policy can take, side by side
(docs/benchmarks.md, "The policies' two forms"; docs/citus.md).

    python -m bench.policy_forms            # PostgreSQL: 1,000 tenants x 20 deals; about 3 minutes
    python -m bench.policy_forms --runs 48  # more repetitions (a multiple of 6 keeps the orders balanced)
    python -m bench.policy_forms --citus /opt/pg-citus/usr/lib/postgresql/15/bin   # Citus; about 2 minutes

- `tenant_id = (SELECT app.verified_tenant())`: the sub-select, an InitPlan run once per statement
  (sql/policies/ on PostgreSQL). Citus refuses it on a distributed table.
- `tenant_id = app.verified_tenant()`: the plain call, which Citus accepts (sql/policies/ on a Citus
  coordinator). The function is STABLE: where the comparison is an index condition it is computed once
  per index scan (and once more by the planner, which estimates with its value); anywhere else (a
  filter, the inner side of a nested loop or a correlated sub-query, run again per outer row) once
  per row.

PostgreSQL: a throwaway cluster (bench/cluster.py, the settings of `make bench`), one database migrated
and seeded as section 1's (`dbtool seed --seed bench`), copied twice (CREATE DATABASE ... TEMPLATE: the
same files, statistics and visibility; two copies so that neither is the older), and in one copy every
tenant policy given the plain call (ALTER POLICY, as migration 0037 does on a Citus coordinator). Three
sides, each its own connection: the application (maplatform_app, token set for the session) on each
copy, and the superuser with `tenant_id = $1` by hand on the first; every repetition runs the three in
one of the six orders, in turn, so each is as often first as last. Section 1's queries and three probes
where the tenant condition is not one index scan's condition (a join, a correlated sub-query, a filter).
Per query: each form against the superuser (section 1's ratio) and the plain call against the
sub-select, medians of the per-repetition ratios; and how many times one execution calls
app.verified_tenant() under each form (track_functions).

Citus (--citus BINDIR, a PostgreSQL prefix with Citus installed): a coordinator and two workers on
loopback, the schema migrated and seeded on the coordinator (its tables local), distributed copies of
users, deals, deal_team_members and activities in schema dist (by tenant_id, co-located, 32 shards,
their policies as the files make them there). The application's query under its policy alone (RLS
only: Citus' planner does not see a policy, so it runs on every shard), the same with the tenant named
in it (one shard), and the superuser's by hand; each execution a transaction with the token set by
SET LOCAL and propagated (docs/citus.md)."""

from __future__ import annotations

import argparse
import itertools
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from dbtool import cluster as db_cluster
from dbtool import config

from . import cluster
from .queries import QUERIES, Query
from .run import ROOT, SMALL, Scale, log, migrate_cmd, prepare, seed_cmd
from .sessions import QuerySide, Session, Tenant, add_key, sample_tenants
from .timing import Pair, _timed

SUBSELECT = "(SELECT app.verified_tenant())"
CALL = "app.verified_tenant()"


def tenant_policies(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(table, column) of every policy that compares a column with the sub-select."""
    rows = conn.execute("""SELECT format('%I.%I', n.nspname, c.relname), pg_get_expr(p.polqual, p.polrelid)
                           FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                           JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE p.polname = 'tenant_isolation' ORDER BY 1""").fetchall()
    out = []
    for table, qual in rows:
        column = qual.strip("()").split(" = ", 1)[0]
        out.append((table, column))
    return out


def to_call_form(url: str) -> int:
    """Every tenant policy of the database at `url` with the plain call (catalog only)."""
    with psycopg.connect(url, autocommit=True) as c:
        done = 0
        with c.transaction():
            for table, column in tenant_policies(c):
                cond = sql.SQL("{} = app.verified_tenant()").format(sql.Identifier(column))
                c.execute(sql.SQL("ALTER POLICY tenant_isolation ON {} USING ({}) WITH CHECK ({})").format(
                    sql.SQL(table), cond, cond))
                done += 1
        return done


def interleave(sides: list[QuerySide], runs: int, target_s: float) -> tuple[list[list[float]], int]:
    """Seconds per execution of each side in each repetition; the sides' order cycles through every
    permutation, so each is as often first as last."""
    for s in sides:
        _timed(s, 0, 1)  # warm-up: caches, catalog, first plans
    one = max(_timed(s, 0, 3) for s in sides)
    n = max(1, min(5000, int(target_s / max(one, 1e-6))))
    orders = list(itertools.permutations(range(len(sides))))
    times: list[list[float]] = [[] for _ in sides]
    for rep in range(runs):
        for i in orders[rep % len(orders)]:
            times[i].append(_timed(sides[i], rep, n))
    return times, n


def count_calls(session: Session) -> None:
    """Let calls() count on this application session: track_functions, a superuser's setting, set
    before its SET ROLE."""
    session.conn.execute("RESET ROLE")
    session.conn.execute("SET track_functions = 'all'")
    session.context_oid = session.conn.execute("SELECT 'app.verified_tenant()'::regprocedure::oid").fetchone()[0]
    session.conn.execute("SET ROLE maplatform_app")


def calls(session: Session, q: Query) -> int:
    """Calls of app.verified_tenant() by one execution of the query (with the functions it calls): the
    transaction's count of pending calls after it less before it (nothing is flushed in between)."""
    count = "SELECT coalesce(pg_stat_get_xact_function_calls(%s), 0)"
    with session.conn.transaction():
        before = session.conn.execute(count, [session.context_oid]).fetchone()[0]
        session.run(q)
        after = session.conn.execute(count, [session.context_oid]).fetchone()[0]
    return int(after - before)


# Not section 1's: application queries where the tenant condition is not the one index condition of
# one scan, where the plain call may be computed more than once. For comparison, without a goal.
PROBES = [
    Query("join", "a deal's team: deals, deal_team_members and users joined (nested loops: the inner "
                  "scans run once per outer row)",
          """SELECT d.name, u.email FROM public.deals AS d
             JOIN public.deal_team_members AS m ON m.deal_id = d.id
             JOIN public.users AS u ON u.id = m.user_id
             WHERE d.archived_at IS NULL ORDER BY d.name, u.email""",
          """SELECT d.name, u.email FROM public.deals AS d
             JOIN public.deal_team_members AS m ON m.tenant_id = d.tenant_id AND m.deal_id = d.id
             JOIN public.users AS u ON u.tenant_id = m.tenant_id AND u.id = m.user_id
             WHERE d.tenant_id = %(tenant)s AND d.archived_at IS NULL ORDER BY d.name, u.email"""),
    Query("correlated", "each open deal with its latest activity: a correlated sub-query, run once per deal",
          """SELECT d.id, (SELECT max(a.occurred_at) FROM public.activities AS a WHERE a.deal_id = d.id) AS latest
             FROM public.deals AS d WHERE d.archived_at IS NULL ORDER BY d.id""",
          """SELECT d.id, (SELECT max(a.occurred_at) FROM public.activities AS a
                           WHERE a.tenant_id = d.tenant_id AND a.deal_id = d.id) AS latest
             FROM public.deals AS d WHERE d.tenant_id = %(tenant)s AND d.archived_at IS NULL ORDER BY d.id"""),
    Query("filter", "deals whose name matches '%ar%' (the trigram index holds every tenant's deals)",
          "SELECT id, name FROM public.deals WHERE name ILIKE '%%ar%%' ORDER BY id",
          "SELECT id, name FROM public.deals WHERE tenant_id = %(tenant)s AND name ILIKE '%%ar%%' ORDER BY id"),
]


def measure(scale: Scale, runs: int, keep: bool) -> dict:
    project = config.load(ROOT)
    many = scale.tenants[1]
    with cluster.throwaway(False, keep=keep) as server:
        prepare(server, many, scale, project)
        with psycopg.connect(server.url(), autocommit=True) as c:  # two copies alike: neither is the older
            for name in ("bench_sub", "bench_call"):
                c.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name),
                                                                           sql.Identifier(f"bench_t{many}")))
        url_sub, url_call = server.url("bench_sub"), server.url("bench_call")
        log(f"policies with the plain call in the copy: {to_call_form(url_call)}")
        tenants: list[Tenant] = sample_tenants(url_sub)
        app_sub, app_call = Session(url_sub, as_app=True), Session(url_call, as_app=True)
        owner = Session(url_sub, as_app=False)
        for s in (app_sub, app_call):
            count_calls(s)
        try:
            for s in (app_sub, app_call, owner):
                for t in tenants:
                    s.use(t)
            out = []
            for q in QUERIES + PROBES:
                log(f"  {q.key}")
                times, n = interleave([QuerySide(app_sub, q, tenants), QuerySide(app_call, q, tenants),
                                       QuerySide(owner, q, tenants)], runs, scale.target_s)
                s_, c_, o_ = times
                for s in (app_sub, app_call, owner):
                    s.use(tenants[0])
                rows = [sorted(map(repr, s.run(q))) for s in (app_sub, app_call, owner)]
                out.append({"query": q, "executions": n,
                            "sub": Pair(s_, o_, n), "call": Pair(c_, o_, n), "call_vs_sub": Pair(c_, s_, n),
                            "same_rows": rows[0] == rows[1] == rows[2], "rows": len(rows[0]),
                            "calls": {"sub": calls(app_sub, q), "call": calls(app_call, q)},
                            "plans": {"sub": app_sub.explain(q), "call": app_call.explain(q)}})
            with psycopg.connect(url_sub, autocommit=True) as c:
                machine = {"postgres": c.execute("SELECT version()").fetchone()[0],
                           "timescaledb": c.execute("SELECT current_setting('timescaledb.license', true)")
                           .fetchone()[0]}
            return {"queries": out, "probes": [q.key for q in PROBES], "runs": runs, "machine": machine}
        finally:
            for s in (app_sub, app_call, owner):
                s.close()


# ----- on Citus: the plain call, the only form a distributed table takes -----------------------------

CITUS_TABLES = ("users", "deals", "deal_team_members", "activities")
# (key, the application's query under RLS alone, the same with the tenant named): {s} is the schema of
# the distributed copies. The superuser runs the second form. Section 1's deal queries and the probes.
CITUS_QUERIES = [
    ("dashboard",
     """SELECT stage, count(*) AS deals, sum(value) AS total_value,
               sum(value * probability / 100.0) AS weighted_value, min(expected_close_date) AS next_close
        FROM {s}.deals WHERE {t}archived_at IS NULL GROUP BY stage ORDER BY stage"""),
    ("closing",
     """SELECT id, name, stage, value, probability, expected_close_date FROM {s}.deals
        WHERE {t}archived_at IS NULL AND stage IN ('negotiation', 'due_diligence')
          AND expected_close_date BETWEEN current_date AND current_date + 30
        ORDER BY expected_close_date, id"""),
    ("join",
     """SELECT d.name, u.email FROM {s}.deals AS d
        JOIN {s}.deal_team_members AS m ON m.tenant_id = d.tenant_id AND m.deal_id = d.id
        JOIN {s}.users AS u ON u.tenant_id = m.tenant_id AND u.id = m.user_id
        WHERE {d}d.archived_at IS NULL ORDER BY d.name, u.email"""),
    ("correlated",
     """SELECT d.id, (SELECT max(a.occurred_at) FROM {s}.activities AS a
                      WHERE {a}a.tenant_id = d.tenant_id AND a.deal_id = d.id) AS latest
        FROM {s}.deals AS d WHERE {d}d.archived_at IS NULL ORDER BY d.id"""),
]


def _citus_text(text: str, routed: bool) -> str:
    return text.format(s="dist", t="tenant_id = %(tenant)s AND " if routed else "",
                       d="d.tenant_id = %(tenant)s AND " if routed else "",
                       a="a.tenant_id = %(tenant)s AND " if routed else "")


def distribute_copies(url: str, tenants: list[Tenant]) -> None:
    """Distributed copies of CITUS_TABLES in schema dist (by tenant_id, co-located, their indexes with
    tenant_id, forced RLS, each tenant policy as the files make it on Citus), and what docs/citus.md's
    later steps do for the schema, by hand: the token registry a reference table (before 0033, its
    audit trigger, which wrote where the workers cannot, dropped), app.verified_tenant() allowed to
    read it from a shard (as 0034 does), a login role for the application (maplatform_app is NOLOGIN)."""
    with psycopg.connect(url, autocommit=True) as c:
        for t in tenants:  # registered while the registry is local: its trigger still works
            c.execute("SELECT app.use_tenant_token(%s, true)", [t.token])
        c.execute("DROP TRIGGER IF EXISTS tenant_tokens_audit ON app.tenant_tokens")  # gone since 0033
        c.execute("SELECT create_reference_table('app_private.tenant_keys')")
        c.execute("SELECT create_reference_table('app.tenant_tokens')")
        c.execute("ALTER FUNCTION app.verified_tenant() SET citus.allow_nested_distributed_execution = on")  # 0034's
        c.execute("CREATE ROLE bench_app LOGIN IN ROLE maplatform_app")
        c.execute("CREATE SCHEMA dist AUTHORIZATION maplatform_owner")
        c.execute("GRANT USAGE ON SCHEMA dist TO maplatform_app")
        c.execute("SET citus.multi_shard_modify_mode = 'sequential'")
        for table in CITUS_TABLES:
            c.execute(f"CREATE TABLE dist.{table} (LIKE public.{table} INCLUDING DEFAULTS)")
            c.execute(f"INSERT INTO dist.{table} SELECT * FROM public.{table}")
            for name, definition, unique in c.execute(
                    """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), i.indisunique
                       FROM pg_index i WHERE i.indrelid = %s::regclass""", [f"public.{table}"]).fetchall():
                if unique and "tenant_id" not in definition.split(" USING ", 1)[1]:
                    continue  # Citus refuses a unique index without the distribution column
                c.execute(definition.replace(f" ON public.{table} ", f" ON dist.{table} ")
                          .replace(f"INDEX {name} ", f"INDEX {name}_dist "))
            c.execute(f"ALTER TABLE dist.{table} OWNER TO maplatform_owner")
            c.execute(f"ALTER TABLE dist.{table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY")
            c.execute(f"GRANT SELECT ON dist.{table} TO maplatform_app")
            c.execute(f"SELECT create_distributed_table('dist.{table}', 'tenant_id', colocate_with => %s)",
                      ["default" if table == CITUS_TABLES[0] else f"dist.{CITUS_TABLES[0]}"])
            c.execute(f"""CREATE POLICY tenant_isolation ON dist.{table} USING (tenant_id = app.verified_tenant())
                          WITH CHECK (tenant_id = app.verified_tenant())""")
            c.execute(f"ANALYZE dist.{table}")


@dataclass
class CitusSide:
    """A timing.Side on Citus: each execution a transaction whose token reaches the workers (SET LOCAL,
    propagated), then the query, as the application on Citus runs it (docs/citus.md)."""
    conn: psycopg.Connection
    text: str
    tenants: list[Tenant]

    def prepare(self, rep: int) -> None:
        self.tenant = self.tenants[rep % len(self.tenants)]
        self.token = sql.Literal(self.tenant.token).as_string(self.conn)

    def batch(self, n: int) -> None:
        params = {"tenant": self.tenant.id}
        for _ in range(n):
            with self.conn.transaction():
                self.conn.execute("SET LOCAL citus.propagate_set_commands = 'local'")
                self.conn.execute(f"SET LOCAL app.tenant_token = {self.token}")
                self.conn.execute(self.text, params).fetchall()


def measure_citus(bindir: Path, scale: Scale, runs: int, keep: bool = False) -> dict:
    """A coordinator and two workers on loopback (as tests/test_citus.py's), the schema migrated and
    seeded on the coordinator (its tables local), CITUS_TABLES copied and distributed (32 shards)."""
    project = config.load(ROOT)
    home = Path(tempfile.mkdtemp(prefix="dbtool-bench-citus-"))
    nodes = [(home / name, db_cluster.free_port()) for name in ("coordinator", "worker1", "worker2")]
    opts = " ".join(f"-c {k}={v}" for k, v in cluster.settings(False).items() if k not in (
        "shared_preload_libraries", "listen_addresses", "shared_buffers", "effective_cache_size", "max_connections"))
    opts += (f" -c shared_preload_libraries='citus,{db_cluster.PRELOAD}' -c max_prepared_transactions=100"
             " -c shared_buffers=256MB -c citus.node_conninfo='sslmode=disable' -c listen_addresses=127.0.0.1"
             " -c unix_socket_directories='' -c max_worker_processes=32 -c max_connections=300")
    started = []
    try:
        for datadir, port in nodes:
            db_cluster.initdb(datadir, bindir=bindir)
            db_cluster.start(datadir, port, home / f"{datadir.name}.log", opts, bindir=bindir)
            started.append(datadir)
        url = f"postgresql://postgres@127.0.0.1:{nodes[0][1]}/bench"
        for i, (_, port) in enumerate(nodes):
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as c:
                c.execute("CREATE DATABASE bench")
                if i == 0:
                    c.execute("CREATE EXTENSION pg_cron")
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/bench", autocommit=True) as c:
                c.execute("CREATE EXTENSION citus")
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", [nodes[0][1]])
            for _, port in nodes[1:]:
                c.execute("SELECT citus_add_node('127.0.0.1', %s)", [port])
        migrate_cmd.migrate(url, project, sync_cron=False)
        log(f"seeding {scale.tenants[1]:,} tenants x {scale.deals_per_tenant} deals on the coordinator")
        seed_cmd.seed(url, seed_cmd.Scale(scale.tenants[1], scale.deals_per_tenant, seed="bench"), jobs=2)
        tenants = sample_tenants(url)
        with psycopg.connect(url, autocommit=True) as c:
            add_key(c)
        distribute_copies(url, tenants)
        app = psycopg.connect(url.replace("postgres@", "bench_app@"), autocommit=True, prepare_threshold=None)
        owner = psycopg.connect(url, autocommit=True, prepare_threshold=None)
        try:
            out = []
            for key, text in CITUS_QUERIES:
                log(f"  citus {key}")
                rls, routed = _citus_text(text, False), _citus_text(text, True)
                times, n = interleave([CitusSide(app, rls, tenants), CitusSide(app, routed, tenants),
                                       CitusSide(owner, routed, tenants)], runs, scale.target_s)
                r_, a_, o_ = times
                side = CitusSide(app, rls, tenants)
                side.prepare(0)
                rows = {}
                tasks = {}
                for name, conn, q in (("rls", app, rls), ("routed", app, routed), ("owner", owner, routed)):
                    # the two forms in one transaction too, as an application's transaction runs several
                    # statements; EXPLAIN in a transaction of its own: on a worker, planning calls
                    # app.verified_tenant() (a STABLE function: estimated with its value), and Citus
                    # refused that after the transaction had read the registry's local placement
                    # ("cannot switch local execution status from local execution required to local
                    # execution disabled")
                    for explain in (False, True):
                        with conn.transaction():
                            conn.execute("SET LOCAL citus.propagate_set_commands = 'local'")
                            conn.execute(f"SET LOCAL app.tenant_token = {side.token}")
                            if explain:
                                plan = [r[0] for r in conn.execute("EXPLAIN " + q, {"tenant": side.tenant.id})]
                                tasks[name] = next((ln.split(":")[1].strip() for ln in plan if "Task Count" in ln),
                                                   "?")
                                continue
                            conn.execute(rls if q is routed else routed, {"tenant": side.tenant.id}).fetchall()
                            rows[name] = sorted(map(repr, conn.execute(q, {"tenant": side.tenant.id}).fetchall()))
                out.append({"key": key, "executions": n, "routed": Pair(a_, o_, n), "rls": Pair(r_, o_, n),
                            "same_rows": rows["rls"] == rows["routed"] == rows["owner"], "rows": len(rows["owner"]),
                            "tasks": tasks})
            version = owner.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'").fetchone()[0]
            return {"queries": out, "citus": version, "runs": runs}
        finally:
            app.close()
            owner.close()
    finally:
        for datadir in reversed(started):
            db_cluster.stop(datadir, bindir=bindir)
        if keep:
            log(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def citus_table(r: dict) -> str:
    rows = ["| query | RLS + tenant named vs by hand | RLS alone vs by hand | time: RLS + tenant, RLS alone, by hand "
            "| tasks: RLS + tenant, RLS alone, by hand | same rows |",
            "|---|---|---|---|---|---|"]
    for x in r["queries"]:
        ms = f"{x['routed'].ms('a'):.2f}, {x['rls'].ms('a'):.2f}, {x['routed'].ms('b'):.2f} ms"
        tasks = ", ".join(x["tasks"][k] for k in ("routed", "rls", "owner"))
        rows.append(f"| {x['key']} | {_x(x['routed'])} | {_x(x['rls'])} | {ms} | {tasks} "
                    f"| {'yes' if x['same_rows'] else '**no**'} ({x['rows']}) |")
    return "\n".join(rows)


def _x(p: Pair) -> str:
    lo, hi = p.iqr()
    return f"**{p.ratio:.2f}x** ({lo:.2f}–{hi:.2f})"


def table(r: dict) -> str:
    rows = ["| query | sub-select vs by hand | plain call vs by hand | plain call vs sub-select | "
            "time: sub-select, plain call, by hand | app.verified_tenant() calls: sub-select, plain call | same rows |",
            "|---|---|---|---|---|---|---|"]
    for x in r["queries"]:
        ms = f"{x['sub'].ms('a'):.3f}, {x['call'].ms('a'):.3f}, {x['sub'].ms('b'):.3f} ms"
        rows.append(f"| {x['query'].key} | {_x(x['sub'])} | {_x(x['call'])} | {_x(x['call_vs_sub'])} | {ms} | "
                    f"{x['calls']['sub']}, {x['calls']['call']} | "
                    f"{'yes' if x['same_rows'] else '**no**'} ({x['rows']}) |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.policy_forms", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=24, help="repetitions of the three sides (default %(default)s)")
    ap.add_argument("--deals-per-tenant", type=int, default=SMALL.deals_per_tenant)
    ap.add_argument("--keep", action="store_true", help="keep the cluster's folder (its log) after the run")
    ap.add_argument("--plans", action="store_true", help="print the application's plans under each form")
    ap.add_argument("--citus", metavar="BINDIR", help="instead: on a Citus coordinator with two workers started "
                    "from this bin folder, the plain call on distributed tables (no other form is accepted there)")
    args = ap.parse_args(argv)
    scale = Scale(SMALL.name, SMALL.tenants, args.deals_per_tenant, args.runs, SMALL.target_s, 0, 0, 0)
    started = time.perf_counter()
    if args.citus:
        r = measure_citus(Path(args.citus), scale, args.runs, args.keep)
        print(f"Citus {r['citus']}, a coordinator and two workers on loopback; {SMALL.tenants[1]:,} tenants x "
              f"{args.deals_per_tenant} deals; {args.runs} repetitions of the three sides; medians of the "
              "per-repetition ratios (IQR)\n")
        print(citus_table(r))
        log(f"done in {time.perf_counter() - started:.0f} s")
        return
    r = measure(scale, args.runs, args.keep)
    print(f"{r['machine']['postgres'].split(' on ')[0]}, TimescaleDB {r['machine']['timescaledb']}; "
          f"{SMALL.tenants[1]:,} tenants x {args.deals_per_tenant} deals; {args.runs} repetitions of the three "
          f"sides; medians of the per-repetition ratios (IQR)\n")
    print(table(r))
    if args.plans:
        for x in r["queries"]:
            for form in ("sub", "call"):
                print(f"\n--- {x['query'].key}, {form}")
                print("\n".join(x["plans"][form]))
    log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
