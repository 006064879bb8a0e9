"""Side-by-side timing: two variants run alternately (A B, B A, A B, ...), each a batch of executions
long enough to measure; the figure is the median of the per-pair ratios, with its spread."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Protocol


class Side(Protocol):
    """One variant: prepare(rep) before repetition rep (not timed), batch(n) runs it n times (timed)."""

    def prepare(self, rep: int) -> None: ...

    def batch(self, n: int) -> None: ...


@dataclass
class Pair:
    """One comparison: seconds per execution of A and of B in each repetition, and their ratios."""
    a: list[float]
    b: list[float]
    executions: int

    @property
    def ratios(self) -> list[float]:
        return [x / y for x, y in zip(self.a, self.b)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def differences(self) -> list[float]:
        """Seconds per execution A costs more than B, per repetition (A and B measured side by side)."""
        return [x - y for x, y in zip(self.a, self.b)]

    def iqr(self, values: list[float] | None = None) -> tuple[float, float]:
        r = sorted(self.ratios if values is None else values)
        if len(r) < 4:
            return r[0], r[-1]
        q = statistics.quantiles(r, n=4, method="inclusive")
        return q[0], q[2]

    def difference_us(self) -> tuple[float, float, float]:
        """Median of the per-repetition differences A - B in microseconds, and their IQR."""
        d = self.differences
        lo, hi = self.iqr(d)
        return statistics.median(d) * 1e6, lo * 1e6, hi * 1e6

    def ms(self, side: str) -> float:
        return statistics.median(self.a if side == "a" else self.b) * 1000

    def as_dict(self) -> dict:
        lo, hi = self.iqr()
        return {"ratio": self.ratio, "iqr": [lo, hi], "min": min(self.ratios), "max": max(self.ratios),
                "a_ms": self.ms("a"), "b_ms": self.ms("b"), "runs": len(self.a), "executions": self.executions}


def _timed(side: Side, rep: int, n: int) -> float:
    side.prepare(rep)
    started = time.perf_counter()
    side.batch(n)
    return (time.perf_counter() - started) / n


def calibrate(a: Side, b: Side, target_s: float, most: int = 5000) -> int:
    """Executions per batch so that the slower side's batch takes about target_s (after a warm-up)."""
    for side in (a, b):
        _timed(side, 0, 1)  # warm-up: caches, catalog, first plan
    one = max(_timed(a, 0, 3), _timed(b, 0, 3))
    return max(1, min(most, int(target_s / max(one, 1e-6))))


def interleave(a: Side, b: Side, runs: int, target_s: float = 0.1, executions: int | None = None) -> Pair:
    """runs repetitions of (A then B) and (B then A) alternately; per-execution seconds of each."""
    n = executions or calibrate(a, b, target_s)
    ta: list[float] = []
    tb: list[float] = []
    for rep in range(runs):
        first, second = ((a, ta), (b, tb)) if rep % 2 == 0 else ((b, tb), (a, ta))
        for side, out in (first, second):
            out.append(_timed(side, rep, n))
    return Pair(ta, tb, n)
