"""The charts of docs/benchmarks.md: each ratio of a run against its goal, as PNG files next to the
report (docs/benchmarks/*.png), drawn with matplotlib from the results dict the report is written
from (bench/run.py; a saved run in bench-results/ draws the same charts).

One chart per figure with goals: 1. RLS cost per query, 3. tenant scaling, 4. tool overhead, 7. the
timeline per edition; and 8. the application's latency over time while a release is migrated
(`load_timeline`), once the load run (bench/load.py) keeps its transactions' times.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GOOD, BAD, NEUTRAL, GOAL = "#2e7d32", "#c62828", "#78909c", "#b71c1c"
DPI = 100
WIDTH_IN = 8.0  # 800 px: shown at its own size in a Markdown page, no scaling, text stays legible


@dataclass(frozen=True)
class Row:
    label: str
    pair: object  # bench.timing.Pair: ratio (median), iqr(), ratios
    goal: float | None


@dataclass(frozen=True)
class Chart:
    name: str  # file name
    title: str  # alt text and caption


def folder(report: Path | str) -> Path:
    """Where a report's charts go: docs/benchmarks.md -> docs/benchmarks/."""
    report = Path(report)
    return report.with_suffix("")


def section(r: dict, others=(), load_run: dict | None = None, out_dir: Path | None = None) -> str:
    """Draw the charts of run `r` into `out_dir` and return the report's section that shows them
    (links relative to the report, which sits next to `out_dir`); "" without `out_dir`."""
    if out_dir is None:
        return ""
    charts = write(r, others, load_run, out_dir)
    if not charts:
        return ""
    body = "\n\n".join(f"![{c.title}]({out_dir.name}/{c.name})" for c in charts)
    return ("## Charts\n\nEach bar is a figure of the summary: the median ratio of the two sides, the thick line "
            "its interquartile range, the thin line its min–max (clipped at the chart's edge), the red tick the "
            "goal; green: goal met, red: missed, grey: no goal. 1.0 (grey line) is parity.\n\n" + body)


def write(r: dict, others=(), load_run: dict | None = None, out_dir: Path = Path("docs/benchmarks")) -> list[Chart]:
    """Every chart the results allow, written as PNG into out_dir; the charts written."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server or in CI
    out_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for name, title, rows in _ratio_charts(r, others):
        if rows:
            _save(ratio_figure(title, rows), out_dir / name)
            made.append(Chart(name, title))
    fig = load_timeline(load_run)
    if fig is not None:
        _save(fig, out_dir / "load-timeline.png")
        made.append(Chart("load-timeline.png", "8. Application latency while the release is migrated"))
    return made


def _ratio_charts(r: dict, others) -> list[tuple[str, str, list[Row]]]:
    from . import report, timeline

    few, many = r["scale"].tenants
    tool = [Row("dbtool migrate (a new process) vs psql", r["tool"]["pair"], report.TOOL_GOAL)]
    if "in_process" in r["tool"]:
        tool.append(Row("migrate() in-process vs psql", r["tool"]["in_process"], None))
    runs = sorted([x for x in [r, *others] if "timeline" in x], key=lambda x: x.get("edition") != "apache")
    return [
        ("rls.png", "1. RLS cost: as maplatform_app under RLS vs the superuser filtering by hand",
         [Row(x["query"].key, x["pair"], report.RLS_GOAL) for x in r.get("rls", [])]),
        ("scaling.png", f"3. Tenant scaling: the same query with {many:,} tenants vs {few:,}",
         [Row(x["query"].key, x["pair"], report.SCALING_GOAL) for x in r.get("scaling", [])]),
        ("tool.png", "4. Tool overhead: dbtool migrate vs psql, empty database to head", tool),
        ("timeline.png", "7. The timeline on a skewed data set, per TimescaleDB edition",
         [Row(f"{timeline.edition_name(run['edition'])}: {x['query'].key}, {x['size']}", x["pair"], x["goal"])
          for run in runs for x in run["timeline"]["rows"] if x["goal"]]),
    ]


def ratio_figure(title: str, rows: list[Row]):
    """Horizontal bars: median ratio per row, IQR and min–max whiskers, the goal as a red tick."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, 1.3 + 0.42 * len(rows)), dpi=DPI)
    ax = fig.add_subplot()
    ys = list(range(len(rows)))[::-1]
    ratios = [x.pair.ratio for x in rows]
    colours = [NEUTRAL if x.goal is None else GOOD if x.pair.ratio <= x.goal else BAD for x in rows]
    ax.barh(ys, ratios, height=0.55, color=colours, alpha=0.85)
    top = max([*ratios, *(x.pair.iqr()[1] for x in rows), *(x.goal or 0 for x in rows)]) * 1.25
    for y, x in zip(ys, rows):
        lo, hi = x.pair.iqr()
        ax.plot([min(x.pair.ratios), max(x.pair.ratios)], [y, y], color="#263238", lw=0.8, alpha=0.6)
        ax.plot([lo, hi], [y, y], color="#263238", lw=3.2, solid_capstyle="butt")
        if x.goal:
            ax.plot([x.goal, x.goal], [y - 0.38, y + 0.38], color=GOAL, lw=2.2)
        right = max(x.pair.ratio, hi, x.goal or 0)  # clear of the bar, its IQR and the goal tick
        ax.text(min(right, top) + top * 0.015, y, f"{x.pair.ratio:.2f}x", fontsize=9, va="center", color="#212121",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1, "alpha": 0.85})
    ax.axvline(1.0, color="#9e9e9e", lw=1, ls="--", zorder=0)
    ax.set_xlim(0, top)
    ax.set_yticks(ys, [x.label for x in rows], fontsize=10)
    ax.set_xlabel("ratio (median of repetitions; lower is better)", fontsize=9)
    ax.set_title(title, fontsize=11, loc="left")
    ax.grid(axis="x", color="#eeeeee")
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def load_timeline(load_run: dict | None):
    """8. Each application transaction's latency against its end time, per side (dbtool, psql), the
    migration's span shaded; None until the load run keeps its transactions. The hook bench/load.py
    fills: load_run["sides"][side]["timeline"] = [(seconds since the migration started, latency in
    ms, ok), ...] and load_run["sides"][side]["applied"]["seconds"] (the migration's length)."""
    sides = (load_run or {}).get("sides", {})
    drawn = {name: s for name, s in sorted(sides.items()) if s.get("timeline")}
    if not drawn:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, 2.2 * len(drawn) + 0.8), dpi=DPI)
    axes = fig.subplots(len(drawn), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, side) in zip(axes, drawn.items()):
        t = [p[0] for p in side["timeline"]]
        ms = [p[1] for p in side["timeline"]]
        ok = [bool(p[2]) if len(p) > 2 else True for p in side["timeline"]]
        ax.scatter([x for x, g in zip(t, ok) if g], [y for y, g in zip(ms, ok) if g], s=3, color=NEUTRAL,
                   label="transaction")
        if not all(ok):
            ax.scatter([x for x, g in zip(t, ok) if not g], [y for y, g in zip(ms, ok) if not g], s=14, color=BAD,
                       marker="x", label="failed")
        ax.axvspan(0, side.get("applied", {}).get("seconds") or 0, color="#ffe0b2", label="migration", zorder=0)
        ax.set_yscale("log")
        ax.set_ylabel("latency (ms)", fontsize=9)
        ax.set_title(f"applied by {name}", fontsize=10, loc="left")
        ax.legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("seconds since the migration started", fontsize=9)
    fig.suptitle("8. Application latency while the release is migrated", fontsize=11, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> None:
    # No software version or date in the file: the same figures give the same bytes.
    fig.savefig(path, format="png", metadata={"Software": None})
