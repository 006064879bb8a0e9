"""The benchmark (bench/): the interleaving that makes its ratios fair and the psql runs it compares
`dbtool migrate` with (a fake clock, nothing timed), then its database sections on a tiny seeded data
set of the test cluster (whichever TimescaleDB edition it runs): the verified tenant context, the
skewed timeline, and a report with both editions' timeline sections. The figures themselves are not
checked (too few repetitions to mean anything), only that each section measures what it says."""

from __future__ import annotations

import copy
import datetime
import sys
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is not an installed package

from bench import citus_nodes, policy_forms, report, run, sections, timeline, timing  # noqa: E402
from bench.queries import QUERIES  # noqa: E402
from bench.sections import psql_commands  # noqa: E402
from bench.sessions import KEY_ID, Session, _short, sample_tenants  # noqa: E402
from dbtool import config  # noqa: E402
from dbtool.commands import seed as seed_loader  # noqa: E402
from dbtool.migrations import directives  # noqa: E402
from schema_support import cloned_db  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
seed_cmd = seed_loader.generator(config.load(ROOT))  # seed/generate.py, loaded as `dbtool seed` loads it
TINY = seed_cmd.Scale(tenants=12, deals_per_tenant=10, seed="bench")
RUNS, TARGET = 2, 0.001  # two repetitions of one-millisecond batches: the code runs, the figures mean nothing


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Side:
    """A variant whose batch of n executions takes cost * n on the fake clock."""

    def __init__(self, name, cost, clock, log):
        self.name, self.cost, self.clock, self.log = name, cost, clock, log

    def prepare(self, rep):
        self.log.append(("prepare", self.name, rep))

    def batch(self, n):
        self.log.append(("batch", self.name, n))
        self.clock.now += self.cost * n


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", c)
    return c


def test_interleave_alternates_which_side_goes_first(clock):
    log = []
    a, b = Side("a", 2.0, clock, log), Side("b", 1.0, clock, log)
    pair = timing.interleave(a, b, runs=4, executions=3)
    order = [name for kind, name, _ in log if kind == "batch"]
    assert order == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert all(n == 3 for kind, _, n in log if kind == "batch")
    assert [rep for kind, name, rep in log if kind == "prepare" and name == "a"] == [0, 1, 2, 3]
    assert pair.ratio == pytest.approx(2.0) and pair.ms("a") == pytest.approx(2000.0)


def test_the_figure_is_the_median_of_per_pair_ratios_with_its_spread(clock):
    costs = iter([1, 1, 3, 1, 1, 1, 2, 1, 1, 1])  # a, b, b, a, a, b, b, a, ... as interleave calls them

    class Varying(Side):
        def batch(self, n):
            self.clock.now += next(costs) * n

    pair = timing.interleave(Varying("a", 0, clock, []), Varying("b", 0, clock, []), runs=5, executions=1)
    assert pair.ratios == pytest.approx([1.0, 1 / 3, 1.0, 0.5, 1.0])
    d = pair.as_dict()
    assert d["ratio"] == pytest.approx(1.0) and d["min"] == pytest.approx(1 / 3) and d["max"] == pytest.approx(1.0)
    assert d["iqr"] == pytest.approx([0.5, 1.0])


def test_calibration_sizes_batches_to_the_slower_side(clock):
    a, b = Side("a", 0.001, clock, []), Side("b", 0.004, clock, [])
    assert timing.calibrate(a, b, target_s=0.2) == 50


def test_psql_applies_transactional_runs_in_one_transaction_and_the_others_alone(project):
    cmds = psql_commands("postgresql:///x", project)
    files = [[a for a in c if a.endswith(".sql")] for c in cmds]
    flat = [f for group in files for f in group]
    migrations = [f for f in flat if "/migrations/" in f]
    assert migrations == sorted(migrations) and len(migrations) >= 15
    assert flat[len(migrations):] == sorted(flat[len(migrations):], key=lambda f: (
        ["functions", "policies", "views"].index(f.split("/sql/")[1].split("/")[0]), f))
    for cmd, group in zip(cmds, files):
        assert "ON_ERROR_STOP=1" in cmd
        non_tx = any(directives(open(f).read()).get("transactional") == "false" for f in group)
        assert ("-1" in cmd) != non_tx, cmd
        if non_tx:
            assert len(group) == 1
    assert any("0015_tune_tenant_queries.sql" in g[0] and "-1" not in c for c, g in zip(cmds, files))


def test_the_psql_runs_migrate_an_empty_database_to_the_schema_dbtool_migrate_makes(project, empty_db, migrated_db):
    """Section 4's psql side really applies every file: a file's SET LOCAL ROLE does not carry over to the
    next file of a one-transaction run (0022 refused to run as the owner role, and the bench stopped)."""
    import subprocess
    for cmd in psql_commands(empty_db, project):
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    assert sections._same_schema(migrated_db, empty_db) == []


def test_plans_show_a_vector_literal_by_its_first_numbers():
    literal = "'[" + ",".join(["0.0123456"] * 1536) + "]'::vector"
    assert _short(f"Sort Key: (d.embeddings <=> {literal})") == \
        "Sort Key: (d.embeddings <=> '[0.0123456,0.0123456,0.0123456,...]'::vector)"


def test_differences_are_per_repetition_and_in_microseconds(clock):
    costs = iter([3e-6, 1e-6, 1e-6, 4e-6, 5e-6, 1e-6])  # a, b, b, a, a, b

    class Varying(Side):
        def batch(self, n):
            self.clock.now += next(costs) * n

    pair = timing.interleave(Varying("a", 0, clock, []), Varying("b", 0, clock, []), runs=3, executions=1)
    assert pair.differences == pytest.approx([2e-6, 3e-6, 4e-6])
    assert pair.difference_us() == pytest.approx((3.0, 2.0, 4.0))  # fewer than 4: the IQR is min-max


def test_the_large_tenant_is_none_of_the_sampled_small_ones():
    for n in (6, 12, 100, 1000):
        taken = {i * n // 5 for i in range(5)}
        assert timeline.large_tenant_index(n) not in taken and timeline.large_tenant_index(n) < n
    with pytest.raises(ValueError):
        timeline.large_tenant_index(5)


# ----- the sections on a tiny data set --------------------------------------------------------------

@pytest.fixture(scope="module")
def bench_db(server):
    """A migrated, seeded database prepared as bench/run.py prepares the 1,000-tenant one: the large
    tenant's events, the edition's timeline jobs, pipeline_analytics refreshed."""
    with cloned_db(server, "bench") as url:
        seed_cmd.seed(url, TINY)
        data = {"skew": timeline.skew(url), "maintenance": timeline.maintain(url)}
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("SELECT ops.refresh_pipeline_analytics()")
        yield url, data


@pytest.fixture(scope="module")
def measured(bench_db):
    url, data = bench_db
    return {"rls": sections.rls_cost(url, RUNS, TARGET), "context": sections.tenant_context(url, RUNS, TARGET),
            "scaling": sections.tenant_scaling(url, url, RUNS, TARGET), "refresh": sections.refresh(url, RUNS),
            "timeline": timeline.measure(url, RUNS, TARGET, data)}


def test_skew_gives_one_tenant_a_hundred_times_the_median_tenants_events(bench_db):
    url, data = bench_db
    d = data["skew"]
    with psycopg.connect(url, autocommit=True) as c:
        per_tenant = dict(c.execute("SELECT tenant_id::TEXT, count(*) FROM timeline.activity_timeline GROUP BY 1"))
        recent = c.execute("SELECT count(*) FROM timeline.activity_timeline WHERE tenant_id = %s "
                           "AND time > now() - INTERVAL '30 days 10 minutes'", [d["tenant"]]).fetchone()[0]
        foreign = c.execute("""SELECT count(*) FROM timeline.activity_timeline AS a
                               LEFT JOIN public.deals AS d ON d.id = a.deal_id AND d.tenant_id = a.tenant_id
                               WHERE a.tenant_id = %s AND d.id IS NULL""", [d["tenant"]]).fetchone()[0]
    others = sorted(n for t, n in per_tenant.items() if t != d["tenant"])
    assert others[0] <= d["median"] <= others[-1]
    assert per_tenant[d["tenant"]] == d["large"] == timeline.SKEW_FACTOR * d["median"] and len(per_tenant) == TINY.tenants
    assert recent >= d["added"] > 0 and foreign == 0  # the extra events: the last 30 days, the tenant's own deals
    assert d["tenant"] not in {t.id for t in sample_tenants(url)}


def test_the_editions_jobs_ran_before_measuring(bench_db):
    url, data = bench_db
    m = data["maintenance"]
    with psycopg.connect(url, autocommit=True) as c:
        large_days = c.execute("SELECT sum(event_count) FROM timeline.daily_activity_summary WHERE tenant_id = %s",
                               [data["skew"]["tenant"]]).fetchone()[0]
    assert large_days == data["skew"]["large"]  # the summary was refreshed after the large tenant's events
    if m["edition"] == timeline.COMMUNITY:
        assert m["compressed_chunks"] >= 1 and m["after_bytes"] < m["before_bytes"] and m["compress_seconds"] > 0
    else:
        assert "compressed_chunks" not in m and m["summary_seconds"] > 0


def test_the_application_sessions_use_verified_tokens_not_tenant_ids(bench_db):
    url, _ = bench_db
    tenant = sample_tenants(url)[1]
    app = Session(url, as_app=True)
    try:
        app.use(tenant)
        assert app.token.startswith(f"v1.{tenant.id}.") and app.token.split(".")[3] == KEY_ID
        seen = app.conn.execute("SELECT DISTINCT tenant_id::TEXT FROM public.deals").fetchall()
        assert seen == [(tenant.id,)]
        with pytest.raises(psycopg.Error) as refused:  # the old call, with a tenant id, is refused
            app.conn.execute("SELECT public.set_tenant_context_for_session(%s)", [tenant.id])
        assert refused.value.sqlstate == "28T01"  # malformed tenant token
    finally:
        app.close()


def test_rls_cost_compares_same_rows_and_reads_the_timeline_through_latest_activity(measured):
    rls = {x["query"].key: x for x in measured["rls"]}
    assert list(rls) == [q.key for q in QUERIES]
    for key, x in rls.items():
        assert x["same_rows"], key
        assert x["pair"].ratio > 0 and len(x["pair"].a) == RUNS
        assert x["variants"][-1]["title"] == sections.LOOKUP and x["variants"][-1]["rows"] == x["rows_owner"], key
        assert all(x["server"][k]["planning_ms"] > 0 for k in ("app", "owner", "lookup")), key
    assert "public.latest_activity(" in rls["timeline"]["query"].app
    assert "timeline.activity_timeline" in rls["timeline"]["query"].owner
    assert rls["timeline"]["rows_app"] > 0
    assert any("latest_activity" in p for p in rls["timeline"]["plans"]["app"])
    assert [v["title"].split(":")[0] for v in rls["timeline"]["variants"]][0].startswith("the same through the view")


def test_tenant_context_compares_the_verified_call_with_set_config_per_transaction(measured, bench_db):
    url, _ = bench_db
    ctx = {x["key"]: x for x in measured["context"]}
    assert list(ctx) == ["call", "transaction", "first_use"] and ctx["call"]["same_tenant"]
    assert all(len(x["pair"].a) == RUNS for x in ctx.values())
    with psycopg.connect(url, autocommit=True) as c:
        registered = c.execute("SELECT count(*) FROM app.tenant_tokens WHERE key_id = %s", [KEY_ID]).fetchone()[0]
    assert registered > 5  # the first-use row registered tokens of its own, besides the five tenants'


def test_timeline_section_measures_each_query_for_a_small_and_the_large_tenant(measured, bench_db):
    url, data = bench_db
    t = measured["timeline"]
    got = [(x["query"].key, x["size"]) for x in t["rows"]]
    assert got == [(k, s) for k in ("latest", "latest_view", "range", "summary") for s in ("small", "large")]
    for x in t["rows"]:
        assert x["same_rows"] and x["rows_app"] > 0, (x["query"].key, x["size"])
        assert ("plans" in x) == (x["size"] == "large" or x["query"].key == "range")
        assert x["server"]["app"]["planning_ms"] > 0 and x["server"]["lookup"]["execution_ms"] > 0
    latest_large = next(x for x in t["rows"] if x["query"].key == "latest" and x["size"] == "large")
    assert latest_large["rows_app"] == 50
    goals = {x["query"].key: x["goal"] for x in t["rows"]}
    assert goals == {"latest": 1.15, "latest_view": None, "range": 1.5, "summary": None}
    rng = next(x for x in t["rows"] if x["query"].key == "range")
    compressed = t["edition"] == timeline.COMMUNITY
    assert ("uncompressed" in rng["query"].title) != compressed
    assert t["large_tenant"] == data["skew"]["tenant"] and t["range_chunks"] >= 3
    assert (t["range_compressed"] > 0) == compressed


def test_refresh_section_refreshes_only_materialized_views(measured, bench_db):
    views = [x["view"] for x in measured["refresh"]]
    assert views[0] == "public.pipeline_analytics"
    assert ("timeline.daily_activity_summary" in views) == (measured["timeline"]["edition"] != timeline.COMMUNITY)


def _results(measured, bench_db, edition: str) -> dict:
    """A run's results as bench/run.py saves them, from the tiny measurements (the tool and drift
    sections, which build their own databases, are stand-ins)."""
    url, data = bench_db
    pair = timing.Pair([0.2, 0.21], [0.1, 0.1], 1)
    m = copy.deepcopy(measured)
    m["timeline"]["edition"] = edition
    if edition == timeline.COMMUNITY:
        m["timeline"]["data"]["maintenance"] = {
            "edition": edition, "size_before": 9 << 20, "size_after": 3 << 20, "compress_seconds": 1.5,
            "chunks": 14, "compressed_chunks": 12, "before_bytes": 8 << 20, "after_bytes": 2 << 20,
            "compressed_rows": 190_000, "summary_seconds": 0.5, "summary_rows": 1000}
    seed = seed_cmd.SeedResult(database="x", scale={}, tables=[seed_cmd.TableResult("deals", 36, 0.1)],
                               load_seconds=1.0, vacuum_seconds=0.1)
    return {**m, "edition": edition, "scale": run.Scale("small", (6, 12), 3, RUNS, TARGET, 1, 1, 1),
            "seed": seed, "seed_few": seed, "command": "make bench",
            "pg_bindir": report.COMMUNITY_BINDIR if edition == timeline.COMMUNITY else None,
            "machine": {"nproc": 2, "cpu": "cpu", "ram_gib": 1, "kernel": "k", "os": "os", "postgres": "PostgreSQL 15",
                        "extensions": {"timescaledb": "2.19.3"}, "timescaledb_edition": edition, "python": "3",
                        "commit": "abc1234", "settings": {}},
            "tool": {"pair": pair, "in_process": pair, "same_schema": [], "psql": ["psql -f x.sql"], "migrations": 18},
            "drift": "(drift table)", "sizes": {"database": "1 MB"}, "wall_seconds": 60.0,
            "finished": datetime.datetime(2026, 12, 6, tzinfo=datetime.timezone.utc)}


def test_report_states_the_edition_and_includes_the_other_editions_timeline(measured, bench_db):
    apache, community = _results(measured, bench_db, "apache"), _results(measured, bench_db, timeline.COMMUNITY)
    alone = report.render(apache)
    assert "on the **Apache edition** of TimescaleDB" in alone and "### 7a. Apache edition" in alone
    assert "### 7b." not in alone and "## 2. The verified tenant context" in alone
    both = report.render(apache, [community])
    assert "### 7a. Apache edition" in both and "### 7b. community edition" in both
    assert both.index("### 7a.") < both.index("### 7b.")
    assert f"`PG_BINDIR={report.COMMUNITY_BINDIR} make bench`" in both
    assert "| 7. timeline (community): range, large tenant | ≤ 1.5x |" in both
    assert "| 7. timeline (Apache): latest, small tenant | ≤ 1.15x |" in both
    assert "**4.0x** smaller" in both and "compression job took **1.5 s**" in both
    assert "The Apache edition has no compression, so the range query reads ordinary chunks" in both
    assert both.count("| query | tenant | planning: app |") == 2 and "| dashboard | " in both  # server times
    # the community run's own report, with the Apache run's section merged in: still Apache first in 7
    other_way = report.render(community, [apache])
    assert "on the **community edition** of TimescaleDB" in other_way
    assert other_way.index("### 7a. Apache") < other_way.index("### 7b. community")
    # a run is never merged with itself (same edition)
    assert report.render(apache, [apache]).count("### 7a.") == 1


# ----- 8. migrations under live traffic (bench/load.py), on a tiny data set ---------------------------

def test_load_benchmark_applies_the_release_under_traffic_by_dbtool_and_by_psql_and_reports_both(
        server, tmp_path, measured, bench_db):
    """Both sides on a clone of the tiny seeded database, with short windows and a 3 s long reader;
    dbtool with a 200 ms lock_timeout. Behaviour only: who waited for the reader, nothing failed, the report."""
    import random

    from bench import load
    with cloned_db(server, "load") as url:
        seed_cmd.seed(url, TINY)
        proj = load.release_project(tmp_path)
        pyproject = proj / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace('lock_timeout = "1s"', 'lock_timeout = "200ms"')
                             .replace('lock_retry_delay = "1s"', 'lock_retry_delay = "50ms"'))
        # the reader outlasts dbtool's start-up (a new process) and so meets its first ALTER TABLE, also on a
        # loaded machine (a 1.5 s reader did not, once, in a full run beside the Citus tests)
        scale = load.LoadScale("test", 12, 10, clients=2, warmup_s=0.1, before_s=0.3, after_s=0.2, hold_s=3.0,
                               lead_s=(0.1, 0.2), probes=2)
        sides = load.compare(url, proj, scale, random.Random(1))
    d, p = sides["dbtool"], sides["psql"]
    first = load.release_ids(proj)[0]
    assert d["applied"]["exit"] == 0 and d["applied"]["attempts"][first] > 1  # it waited out the reader
    assert any(ln.startswith("warning: ") and "behind pid" in ln for ln in d["applied"]["stderr"])
    assert any("lock-timeout" in ln and first in ln for ln in d["log"])
    assert p["applied"]["exit"] == 0 and p["applied"]["seconds"] >= scale.hold_s - scale.lead_s[1]  # psql waited
    for side in (d, p):
        assert side["reader"]["ok"] and side["all"]["attempted"] > 0 and side["all"]["failed"] == 0, side["errors"]
        assert set(side["windows"]) == {"before", "during", "after"}
    assert len(d["probe_waits_s"]) == 2 and p["probe_waits_s"] == []
    results = {"scale": load.asdict(scale), "seed": 1, "data": {"deals": 120, "deals_size": "1 MB"},
               "sides": sides, "release": load.release_ids(proj), "postgres": "15", "nproc": 2, "settings": {},
               "wall_seconds": 60.0, "finished": datetime.datetime(2026, 12, 6, tzinfo=datetime.timezone.utc),
               "commit": "abc1234"}
    text = report.render(_results(measured, bench_db, "apache"), [], results)
    assert text.index("## 7. The timeline") < text.index("## 8. Migrations under live traffic") < \
        text.index("## How the figures are made")
    assert "| 8. under load: failed application transactions, dbtool migrate | 0 | 0 | — | met |" in text
    assert "| during: p50 / p99 / max |" in text and f"{first.split('_')[0]}: {d['applied']['attempts'][first]}" in text


# ----- the charts (bench/plots.py), from a small results dict: no database ----------------------------

def _tiny_results() -> dict:
    from types import SimpleNamespace

    def pair(a: float) -> timing.Pair:
        return timing.Pair([a * 0.9, a, a * 1.1, a * 1.3], [1.0, 1.0, 1.0, 1.0], 1)

    q = [SimpleNamespace(key=k) for k in ("pipeline", "search")]
    return {"scale": run.Scale("small", (6, 12), 3, RUNS, TARGET, 1, 1, 1), "edition": "apache",
            "rls": [{"query": q[0], "pair": pair(1.05)}, {"query": q[1], "pair": pair(1.4)}],
            "scaling": [{"query": q[0], "pair": pair(0.9)}],
            "tool": {"pair": pair(1.7), "in_process": pair(1.05)},
            "timeline": {"rows": [{"query": q[0], "size": "large", "goal": 1.15, "pair": pair(0.8)},
                                  {"query": q[1], "size": "small", "goal": None, "pair": pair(3.0)}]}}


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plots_draw_each_ratio_chart_as_a_png_the_report_embeds(tmp_path):
    from bench import plots

    r = _tiny_results()
    charts = plots.write(r, [], None, tmp_path / "benchmarks")
    assert [c.name for c in charts] == ["rls.png", "scaling.png", "tool.png", "timeline.png"]
    for c in charts:
        width, height = _png_size(tmp_path / "benchmarks" / c.name)
        assert width == plots.WIDTH_IN * plots.DPI and 150 < height < 1000  # shown at its own size: legible
    again = plots.write(r, [], None, tmp_path / "again")
    assert all((tmp_path / "benchmarks" / c.name).read_bytes() == (tmp_path / "again" / c.name).read_bytes()
               for c in again)  # the same figures give the same files: no date, no version inside
    section = plots.section(r, [], None, tmp_path / "benchmarks")
    assert "![1. RLS cost" in section and "(benchmarks/rls.png)" in section and "(benchmarks/tool.png)" in section
    assert plots.section(r, [], None, None) == "" and plots.folder("docs/benchmarks.md") == Path("docs/benchmarks")


def test_the_load_timeline_is_drawn_once_the_load_run_keeps_its_transactions(tmp_path):
    from bench import plots

    assert plots.load_timeline(None) is None and plots.load_timeline({"sides": {"dbtool": {}}}) is None
    side = {"applied": {"seconds": 2.0}, "timeline": [(-1.0, 3.0, True), (0.5, 900.0, True), (1.0, 1200.0, False),
                                                      (3.0, 4.0, True)]}
    charts = plots.write(_tiny_results(), [], {"sides": {"dbtool": side, "psql": side}}, tmp_path)
    assert charts[-1].name == "load-timeline.png" and _png_size(tmp_path / "load-timeline.png")[0] == 800


# ----- 4. start-up: each dbtool command as a new process against the bare interpreter or psycopg ----------

def test_startup_times_dbtool_against_the_bare_interpreter_and_a_bare_psycopg_connection(server):
    from dbtool import config
    rows = sections.startup(server, config.load(sections.ROOT), 1, TARGET)
    assert [x["key"] for x in rows] == ["help", "help_cold", "usage", "usage_cold", "usage_dbtool", "typer", "status",
                                        "status_libraries"]
    assert {x["key"]: x["goal"] for x in rows if x["goal"]} == {"help": 3.0, "usage": 3.0, "usage_dbtool": 3.0,
                                                               "status": 1.3}
    assert all(x["pair"].a and x["pair"].b for x in rows)
    assert {x["against"] for x in rows} == {"python -c pass", "python -c 'import psycopg; connect; close'"}
    with psycopg.connect(server.url(), autocommit=True) as c:  # its database is gone
        assert c.execute("SELECT count(*) FROM pg_database WHERE datname = 'bench_status'").fetchone()[0] == 0


def test_the_report_gives_each_startup_goal_a_summary_row_and_a_reason_when_missed(measured, bench_db):
    r = _results(measured, bench_db, "apache")
    fast, slow = timing.Pair([0.05, 0.05], [0.04, 0.04], 1), timing.Pair([0.4, 0.4], [0.1, 0.1], 1)
    r["tool"]["startup"] = [
        {"key": "help", "title": "`dbtool --help`", "pair": fast, "goal": 3.0, "against": "python -c pass"},
        {"key": "help_cold", "title": "↳ `dbtool --help`, first run", "pair": slow, "goal": None,
         "against": "python -c pass"},
        {"key": "status", "title": "`dbtool status --database-url URL`", "pair": slow, "goal": 1.3,
         "against": "python -c 'import psycopg; connect; close'"}]
    text = report.render(r)
    assert "| 4. `dbtool --help` vs `python -c pass` | ≤ 3.0x | 1.25x |" in text and "| met |" in text
    assert "| 4. `dbtool status --database-url URL` vs `python -c 'import psycopg; connect; close'` | ≤ 1.3x | 4.00x" in text
    assert "- **tool.status** (4.00x): " in text and "no explanation recorded yet" not in text.split("tool.status")[1][:80]
    assert "### Start-up" in text and "| ↳ *`dbtool --help`, first run* |" in text
    only = report.tool_only(r)
    assert only.startswith("| figure | goal |") and "## 4. Tool overhead" in only and "tool.status" in only


def test_policy_forms_gives_a_copy_the_plain_call_which_returns_the_same_rows_and_is_called_per_outer_row(
        bench_db, server):
    """bench/policy_forms.py: in a copy of the seeded database every tenant policy gets the plain call
    Citus needs; both forms return the same rows for every query it measures, and the correlated
    sub-query calls app.verified_tenant() once per row read under the plain call, once per table under
    the sub-select (the reason PostgreSQL keeps the sub-select: docs/benchmarks.md)."""
    url, _ = bench_db
    name = f"forms_{url.rsplit('/', 1)[1].split('?')[0]}"
    with psycopg.connect(server.url("postgres"), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{url.rsplit("/", 1)[1].split("?")[0]}"')
    copy_url = url.replace(url.rsplit("/", 1)[1].split("?")[0], name)
    try:
        assert policy_forms.to_call_form(copy_url) == 18
        with psycopg.connect(copy_url) as c:
            assert {u for _, u, _ in c.execute(
                "SELECT polrelid, pg_get_expr(polqual, polrelid), 1 FROM pg_policy WHERE polname = 'tenant_isolation'")
                    } == {"(tenant_id = app.verified_tenant())", "(id = app.verified_tenant())"}
        tenant = sample_tenants(url)[1]
        sub, call = Session(url, as_app=True), Session(copy_url, as_app=True)
        try:
            counted = {}
            for s in (sub, call):
                policy_forms.count_calls(s)
                s.use(tenant)
            for q in QUERIES + policy_forms.PROBES:
                assert sorted(map(repr, sub.run(q))) == sorted(map(repr, call.run(q))), q.key
                counted[q.key] = (policy_forms.calls(sub, q), policy_forms.calls(call, q))
            deals = len(sub.run(next(q for q in policy_forms.PROBES if q.key == "correlated")))
            # a filter on the scan by deal, run again for each deal: once per activity read
            assert deals > 2 and counted["correlated"][0] == 2 and counted["correlated"][1] > deals
            assert counted["dashboard"] == (1, 2)  # an index condition: once, and once by the planner
        finally:
            sub.close()
            call.close()
    finally:
        with psycopg.connect(server.url("postgres"), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ----- bench/citus_nodes.py: its pure parts (the Citus run itself needs a Citus build) -----------------


def test_each_documented_query_names_its_tenant_in_the_form_the_citus_comparison_runs():
    """docs/citus.md: on Citus the application names the tenant in every query (the policy's condition is
    invisible to Citus' planner). The comparison runs that form on both servers: the function calls that
    name the verified tenant as they are, the deal queries in their hand-written form (never the superuser's
    table behind the summary view, which the application may not read), the summary view with the tenant
    added."""
    forms = {q.key: citus_nodes.tenant_named(q) for q in QUERIES}
    assert set(forms) == {q.key for q in QUERIES}
    by_key = {q.key: q for q in QUERIES}
    for key in ("dashboard", "closing"):
        assert forms[key] == by_key[key].owner and "tenant_id = %(tenant)s" in forms[key]
    for key in ("search", "vector", "timeline"):
        assert forms[key] == by_key[key].app and "%(tenant)s" not in forms[key]
    assert forms["pipeline"] == "SELECT * FROM public.get_deal_pipeline(%(tenant)s)"
    assert "public.tenant_pipeline_analytics WHERE tenant_id = %(tenant)s" in forms["analytics"]
    assert not any("public.pipeline_analytics" in f for f in forms.values())


def test_a_query_with_no_form_naming_its_tenant_is_refused_not_run_on_every_shard():
    from bench.queries import Query
    with pytest.raises(ValueError, match="no form of it names the tenant"):
        citus_nodes.tenant_named(Query("all", "every deal", "SELECT * FROM public.deals", "SELECT * FROM public.deals"))


def test_the_task_count_is_read_from_a_citus_plan_and_absent_from_a_plain_one():
    routed = ["Custom Scan (Citus Adaptive)  (cost=0.00..0.00 rows=0 width=0)", "  Task Count: 1",
              "  Tasks Shown: All", "  ->  Task", "        Node: host=127.0.0.1 port=5433 dbname=bench"]
    assert citus_nodes.task_count(routed) == 1
    assert citus_nodes.task_count(["Custom Scan (Citus Adaptive)", "  Task Count: 32", "  Tasks Shown: One of 32"]) == 32
    assert citus_nodes.task_count(["Function Scan on get_deal_pipeline  (cost=0.25..10.25 rows=1000 width=88)"]) is None


def test_shard_groups_count_the_hash_ranges_the_commands_sent_to_the_workers_read():
    """Co-located shards of one range are one group; commands that are not sent queries, and shards of
    no distributed table (a reference table's), count nothing."""
    ranges = {"102008": -2013265920, "102040": -2013265920, "102009": -1879048192}
    commands = ["issuing SELECT count(*) FROM public.deals_102008 deals WHERE (tenant_id = 'a')",
                "issuing SELECT 1 FROM public.deals_102008 d JOIN public.deal_team_members_102040 m USING (id)",
                "issuing SELECT * FROM app.tenant_tokens_102100 t", "connection to 127.0.0.1:5433 established",
                "something about public.deals_102009 that was not sent"]
    assert citus_nodes.shard_groups(commands, ranges) == {-2013265920}
    assert citus_nodes.shard_groups(commands + ["issuing SELECT 1 FROM public.deals_102009 deals"], ranges) == {
        -2013265920, -1879048192}


def test_two_servers_answers_are_compared_without_the_moment_each_computed_them():
    rows = [("a", 1, datetime.datetime(2026, 1, 1)), ("b", 2, datetime.datetime(2026, 1, 1))]
    later = [("b", 2, datetime.datetime(2026, 1, 2)), ("a", 1, datetime.datetime(2026, 1, 2))]
    cols = ["stage", "deal_count", "calculated_at"]
    assert citus_nodes.comparable(rows, cols) == citus_nodes.comparable(later, cols)
    assert citus_nodes.comparable(rows, cols) != citus_nodes.comparable([("a", 1, None)], cols)
    assert citus_nodes.comparable(rows, ["stage", "deal_count", "expected_close_date"]) != \
        citus_nodes.comparable(later, ["stage", "deal_count", "expected_close_date"])


def test_the_citus_comparison_without_a_citus_build_says_so_in_one_line_and_starts_nothing(capsys, monkeypatch):
    monkeypatch.setattr(citus_nodes, "measure", lambda *a, **k: pytest.fail("measured without Citus"))
    citus_nodes.main([])
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and "skipped, no Citus build given (--citus BINDIR" in out


def test_the_citus_table_gives_each_query_its_ratio_spread_tasks_and_row_check():
    x = {"key": "dashboard", "ratio": 1.5, "iqr": (1.4, 1.6), "min": 1.2, "max": 2.0, "a_ms": 0.9, "b_ms": 0.6,
         "diff_ms": (0.3, 0.25, 0.42), "tasks": 1, "shard_groups": 1, "same_rows": True, "rows": (4, 4)}
    y = {**x, "key": "search", "tasks": None, "same_rows": False, "rows": (3, 4)}
    text = citus_nodes.table({"queries": [x, y]})
    assert "| dashboard | **1.50x** (1.40–1.60) | 1.20–2.00 | 0.90, 0.60 ms | +0.30 ms (+0.25–+0.42) | 1 | 1 | yes (4) |" in text
    assert "| search | **1.50x** (1.40–1.60) | 1.20–2.00 | 0.90, 0.60 ms | +0.30 ms (+0.25–+0.42) | — | 1 | **no** (3 vs 4) |" in text
