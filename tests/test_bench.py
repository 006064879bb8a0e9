"""The benchmark's helpers (bench/): the interleaving that makes its ratios fair, and the psql runs it
compares `dbtool migrate` with. Nothing here is timed: the clock is a fake."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/ is not an installed package

from bench import timing  # noqa: E402
from bench.sections import psql_commands  # noqa: E402
from bench.sessions import _short  # noqa: E402


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
        text = "".join(open(f).read(2000) for f in group)
        non_tx = "-- transactional: false" in text
        assert ("-1" in cmd) != non_tx, cmd
        if non_tx:
            assert len(group) == 1
    assert any("0015_tune_tenant_queries.sql" in g[0] and "-1" not in c for c, g in zip(cmds, files))


def test_plans_show_a_vector_literal_by_its_first_numbers():
    literal = "'[" + ",".join(["0.0123456"] * 1536) + "]'::vector"
    assert _short(f"Sort Key: (d.embeddings <=> {literal})") == \
        "Sort Key: (d.embeddings <=> '[0.0123456,0.0123456,0.0123456,...]'::vector)"
