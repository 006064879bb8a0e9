"""`python -m bench.load [--full]`: a release migrated under live traffic, by `dbtool migrate` and by
plain `psql -f`, side by side (section 8 of docs/benchmarks.md).

    python -m bench.load          # small: 100 tenants x 100 deals (10,000 deals); about 3 minutes
    python -m bench.load --full   # 1,000 tenants x 1,000 deals (1,000,000 deals); about 20 minutes, 12 seeding

A throwaway cluster (bench/cluster.py), one database migrated with dbtool and seeded with `dbtool seed`.
Then, for each side in turn (dbtool first, the release rolled back in between, then psql), with the
same timing: N application clients (threads, each its own connection as maplatform_app with its own
tenant's verified token, set per transaction as the application does) read and write their tenant's
deals, activities and timeline with a short random pause between transactions; after a warm-up and a
`before` window, a long reader (as the application) takes deals' ACCESS SHARE lock at a random moment
shortly before the migration starts and holds it for some seconds; the release of bench/release/ (on
top of the real migrations, in a temporary project) is applied; an `after` window follows. Every
application transaction's latency is kept, and counted in the window in which it ended.

The figures are saved in bench-results/load-<scale>.pickle (plain data) and docs/benchmarks.md is
written again from the latest saved `python -m bench` run with this section added (`make bench`
includes the latest saved load run, full scale when there is one).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pickle
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg

from dbtool import cluster as db_cluster
from dbtool import config, lockretry
from dbtool.commands import migrate as migrate_cmd
from dbtool.commands import seed as seed_loader
from dbtool.engine import Settings
from dbtool.migrations import read as read_migrations

from . import cluster
from .sessions import APP, TOKENS, add_key

ROOT = Path(__file__).resolve().parent.parent
seed_cmd = seed_loader.generator(config.load(ROOT))  # seed/generate.py, loaded as `dbtool seed` loads it
RELEASE = Path(__file__).resolve().parent / "release"
RESULTS = ROOT / "bench-results"
DBTOOL = str(Path(sys.executable).parent / "dbtool")
FAIL_GOAL, STALL_GOAL = 0, 2.0  # failed application transactions; max stall / lock_timeout


@dataclass(frozen=True)
class LoadScale:
    name: str
    tenants: int
    deals_per_tenant: int
    clients: int = 8
    warmup_s: float = 3.0
    before_s: float = 10.0
    after_s: float = 10.0
    hold_s: float = 8.0  # how long the long reader holds deals
    lead_s: tuple[float, float] = (0.5, 3.0)  # it starts this long (random) before the migration
    probes: int = 20  # ACCESS EXCLUSIVE lock probes on deals under the load, before the first side
    think_s: float = 0.02  # the longest random pause between one client's transactions


SMALL = LoadScale("small", 100, 100)
FULL = LoadScale("full", 1000, 1000)


def log(msg: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


# ----- the application -----------------------------------------------------------------------------

# (weight, name, statements): what one application transaction does after setting its tenant.
# Parameters: deal, user, probability. Every one but the timeline read touches deals (the activity's
# foreign key checks its deal), so each waits behind a migration queued for a lock on deals.
OPS = [
    (35, "list deals", ["SELECT id, name, stage, value FROM public.deals WHERE archived_at IS NULL "
                        "ORDER BY value DESC LIMIT 20"]),
    (25, "deal page", ["SELECT id, name, stage, value, probability FROM public.deals WHERE id = %(deal)s",
                       "SELECT id, type, title, occurred_at FROM public.activities WHERE deal_id = %(deal)s "
                       "ORDER BY occurred_at DESC LIMIT 10"]),
    (15, "update deal", ["UPDATE public.deals SET probability = %(probability)s WHERE id = %(deal)s"]),
    (15, "log activity", ["INSERT INTO public.activities (deal_id, user_id, type, title, created_by) "
                          "VALUES (%(deal)s, %(user)s, 'note', 'Call notes', %(user)s)",
                          "INSERT INTO public.activity_timeline (time, deal_id, user_id, event_type) "
                          "VALUES (now(), %(deal)s, %(user)s, 'activity_logged')"]),
    (10, "timeline", ["SELECT * FROM public.latest_activity(now() - INTERVAL '7 days', 20)"]),
]


@dataclass
class Sample:
    end: float  # time.monotonic() when the transaction ended
    seconds: float
    ok: bool
    op: str


def app_connection(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True, application_name="bench-app")
    conn.execute(f"SET ROLE {APP}")
    return conn


def in_tenant(conn: psycopg.Connection, tenant: str) -> None:
    """The application's first statement of every transaction: its tenant's verified token."""
    conn.execute("SELECT public.set_tenant_context(%s)", [TOKENS.token(tenant)])


@dataclass
class Client:
    """One application process's connection: transactions of its tenant until stopped."""
    url: str
    tenant: str
    deals: list[str]
    users: list[str]
    seed: int
    think_s: float
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        rng = random.Random(self.seed)
        weights = [w for w, _, _ in OPS]
        with app_connection(self.url) as conn:
            while not stop.is_set():
                _, name, statements = rng.choices(OPS, weights)[0]
                params = {"deal": rng.choice(self.deals), "user": rng.choice(self.users),
                          "probability": rng.randint(0, 100)}
                started = time.monotonic()
                try:
                    with conn.transaction():
                        in_tenant(conn, self.tenant)
                        for sql in statements:
                            conn.execute(sql, params).fetchall() if sql.startswith("SELECT") else conn.execute(sql, params)
                    ok = True
                except psycopg.Error as exc:
                    ok = False
                    self.errors.append(f"{name}: {exc.sqlstate} {str(exc).splitlines()[0]}")
                ended = time.monotonic()
                self.samples.append(Sample(ended, ended - started, ok, name))
                stop.wait(rng.uniform(0, self.think_s))


def clients_for(url: str, scale: LoadScale, seed: int) -> list[Client]:
    """Clients spread over the tenant list, each with some of its tenant's deals and users."""
    with psycopg.connect(url, autocommit=True) as c:
        add_key(c)
        ids = [r[0] for r in c.execute("SELECT id::text FROM public.tenants ORDER BY id")]
        out = []
        for i in range(scale.clients):
            t = ids[(2 * i + 1) * len(ids) // (2 * scale.clients + 2)]
            deals = [r[0] for r in c.execute("SELECT id::text FROM public.deals WHERE tenant_id = %s "
                                             "ORDER BY id LIMIT 200", [t])]
            users = [r[0] for r in c.execute("SELECT id::text FROM public.users WHERE tenant_id = %s "
                                             "ORDER BY id LIMIT 20", [t])]
            out.append(Client(url, t, deals, users, seed + i, scale.think_s))
        return out


@dataclass
class LongReader:
    """A report that reads its tenant's deals and keeps its transaction open for hold_s: it holds
    ACCESS SHARE on deals, which blocks no application query, but does block an ALTER TABLE."""
    url: str
    tenant: str
    hold_s: float
    started: float | None = None
    ended: float | None = None
    error: str | None = None

    def run(self, at: float) -> None:
        time.sleep(max(0.0, at - time.monotonic()))
        try:
            with app_connection(self.url) as conn, conn.transaction():
                in_tenant(conn, self.tenant)
                self.started = time.monotonic()
                conn.execute("SELECT count(*), sum(value) FROM public.deals").fetchall()
                conn.execute("SELECT pg_sleep(%s)", [self.hold_s])
            self.ended = time.monotonic()
        except psycopg.Error as exc:
            self.error = str(exc).splitlines()[0]


def probe_lock_waits(url: str, n: int, every: float = 0.25) -> list[float]:
    """How long an ACCESS EXCLUSIVE lock on deals takes to get under this load when no long
    transaction is in the way: the wait a migration's ALTER TABLE would have, at the least."""
    waits = []
    with psycopg.connect(url, autocommit=True) as c:
        for _ in range(n):
            with c.transaction(force_rollback=True):
                c.execute("SET LOCAL lock_timeout = '30s'")
                t0 = time.monotonic()
                c.execute("LOCK TABLE public.deals IN ACCESS EXCLUSIVE MODE")
                waits.append(time.monotonic() - t0)
            time.sleep(every)
    return waits


# ----- the release ------------------------------------------------------------------------------

def release_project(where: Path) -> Path:
    """A project of the real migrations and repeatable files, with bench/release/ on top: its files
    (numbered 0001, 0002, ... there) take the numbers after the last real migration."""
    proj = where / "project"
    shutil.copytree(ROOT / "migrations", proj / "migrations")
    shutil.copytree(ROOT / "sql", proj / "sql")
    shutil.copy(ROOT / "pyproject.toml", proj / "pyproject.toml")
    last = max(int(p.name[:4]) for p in (ROOT / "migrations").glob("[0-9][0-9][0-9][0-9]_*.sql"))
    for f in sorted(RELEASE.glob("*.sql")):
        shutil.copy(f, proj / "migrations" / f"{last + int(f.name[:4]):04d}{f.name[4:]}")
    return proj


def release_ids(proj: Path) -> list[str]:
    """The ids of the release's migrations in the temporary project."""
    real = {p.name for p in (ROOT / "migrations").glob("*.sql")}
    return sorted(p.name[:-4] for p in (proj / "migrations").glob("*.sql")
                  if p.name not in real and not p.name.endswith(".rollback.sql"))


def psql_commands(url: str, proj: Path) -> list[list[str]]:
    """The release by hand: each file with `psql -f`, a transactional one with -1, no lock_timeout."""
    psql = str(db_cluster.find_bindir() / "psql")
    wanted = set(release_ids(proj))
    files = [m for m in read_migrations(proj / "migrations", proj) if m.id in wanted]
    return [[psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url] + (["-1"] if m.transactional else [])
            + ["-f", str(m.path)] for m in files]


def apply_release(side: str, url: str, proj: Path) -> dict:
    """Apply the release; how long it took, and for dbtool the attempts and what it printed."""
    t0 = time.monotonic()
    if side == "dbtool":
        res = subprocess.run([DBTOOL, "migrate", "--json", "--database-url", url, "--project", str(proj)],
                             capture_output=True, text=True)
        out = {"seconds": time.monotonic() - t0, "exit": res.returncode, "stderr": res.stderr.strip().splitlines()}
        doc = json.loads(res.stdout or "{}")
        out["attempts"] = {a["id"]: a["attempts"] for a in doc.get("applied", [])}
        out["error"] = doc.get("error")
        return out
    for cmd in psql_commands(url, proj):
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            return {"seconds": time.monotonic() - t0, "exit": res.returncode, "stderr": res.stderr.splitlines()}
    return {"seconds": time.monotonic() - t0, "exit": 0, "stderr": []}


def undo_release(url: str, proj: Path) -> None:
    last = sorted(m.id for m in read_migrations(proj / "migrations", proj) if m.id not in release_ids(proj))[-1]
    subprocess.run([DBTOOL, "rollback", "--to", last, "--yes", "-q", "--database-url", url, "--project", str(proj)],
                   check=True, capture_output=True, text=True)


def ledger_lines(url: str, proj: Path) -> list[str]:
    """What `dbtool log` shows of the run: its applies and the attempts that timed out."""
    res = subprocess.run([DBTOOL, "log", "--limit", "30", "--database-url", url], capture_output=True, text=True)
    wanted = set(release_ids(proj))
    return [ln for ln in res.stdout.splitlines() if any(i in ln for i in wanted) and " rollback " not in ln]


# ----- one side ---------------------------------------------------------------------------------

def run_side(side: str, url: str, proj: Path, scale: LoadScale, rng: random.Random, probes: int = 0) -> dict:
    """The application running throughout; the long reader; the release applied by `side`."""
    clients = clients_for(url, scale, rng.randrange(1 << 30))
    for c in clients:  # each token registered once, as a running application's would be
        with app_connection(url) as conn, conn.transaction():
            in_tenant(conn, c.tenant)
    stop = threading.Event()
    threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in clients]
    t_start = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(scale.warmup_s)
    waits = probe_lock_waits(url, probes) if probes else []
    before_from = time.monotonic()
    lead = rng.uniform(*scale.lead_s)
    migrate_at = before_from + scale.before_s
    reader = LongReader(url, clients[0].tenant, scale.hold_s)
    rt = threading.Thread(target=reader.run, args=(migrate_at - lead,), daemon=True)
    rt.start()
    time.sleep(max(0.0, migrate_at - time.monotonic()))
    m_start = time.monotonic()
    applied = apply_release(side, url, proj)
    m_end = time.monotonic()
    time.sleep(scale.after_s)
    stop.set()
    for t in threads:
        t.join(30)
    rt.join(scale.hold_s + 30)
    samples = [s for c in clients for s in c.samples]
    settings = Settings.from_project(config.load(proj))
    out = {"side": side, "applied": applied, "lock_timeout": settings.lock_timeout,
           "lock_timeout_s": lockretry._seconds(settings.lock_timeout), "lock_retries": settings.lock_retries,
           "lock_retry_delay": settings.lock_retry_delay, "lock_retry_max_delay": settings.lock_retry_max_delay,
           "windows": {"before": _window(samples, before_from, m_start),
                       "during": _window(samples, m_start, m_end),
                       "after": _window(samples, m_end, m_end + scale.after_s + 60)},
           "all": _window(samples, t_start, m_end + scale.after_s + 60),
           "errors": [e for c in clients for e in c.errors][:20],
           "reader": {"lead_s": migrate_at - (reader.started or migrate_at), "held_s": (reader.ended or 0) - (reader.started or 0),
                      "ok": reader.error is None and reader.ended is not None, "error": reader.error},
           "probe_waits_s": waits}
    out["stalled"] = sum(1 for s in samples if m_start <= s.end <= m_end and s.seconds > out["lock_timeout_s"])
    if side == "dbtool":
        out["log"] = ledger_lines(url, proj)
    return out


def _window(samples: list[Sample], lo: float, hi: float) -> dict:
    xs = [s for s in samples if lo <= s.end < hi]
    ms = sorted(s.seconds * 1000 for s in xs)
    worst = max(xs, key=lambda s: s.seconds, default=None)
    return {"attempted": len(xs), "failed": sum(not s.ok for s in xs), "seconds": hi - lo if hi - lo < 1e6 else None,
            "p50_ms": statistics.median(ms) if ms else None,
            "p99_ms": statistics.quantiles(ms, n=100, method="inclusive")[98] if len(ms) > 1 else (ms or [None])[0],
            "max_ms": ms[-1] if ms else None, "max_op": worst.op if worst else None}


# ----- the run ------------------------------------------------------------------------------------

def prepare(server: cluster.Server, scale: LoadScale) -> tuple[str, dict]:
    url = server.create_db("bench_load")
    migrate_cmd.migrate(url, config.load(ROOT), sync_cron=False)
    log(f"seeding {scale.tenants} tenants x {scale.deals_per_tenant} deals")
    res = seed_cmd.seed(url, seed_cmd.Scale(scale.tenants, scale.deals_per_tenant, seed="bench"), jobs=2)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CHECKPOINT")
        deals = c.execute("SELECT count(*) FROM public.deals").fetchone()[0]
        size = c.execute("SELECT pg_size_pretty(pg_total_relation_size('public.deals'))").fetchone()[0]
    return url, {"deals": deals, "deals_size": size, "seed_seconds": res.load_seconds + res.vacuum_seconds}


def measure(scale: LoadScale, seed: int, keep: bool = False) -> dict:
    started = time.perf_counter()
    rng = random.Random(seed)
    with cluster.throwaway(scale.name == "full", keep=keep) as server, \
            tempfile.TemporaryDirectory(prefix="dbtool-load-") as tmp:
        log(f"cluster in {server.socket_dir}")
        url, data = prepare(server, scale)
        proj = release_project(Path(tmp))
        log(f"{data['deals']:,} deals ({data['deals_size']})")
        sides = compare(url, proj, scale, rng)
        with psycopg.connect(url, autocommit=True) as c:
            version = c.execute("SHOW server_version").fetchone()[0]
        release = release_ids(proj)
    return {"scale": asdict(scale), "seed": seed, "data": data, "sides": sides,
            "release": release, "postgres": version, "nproc": os.cpu_count(),
            "settings": cluster.settings(scale.name == "full"), "wall_seconds": time.perf_counter() - started,
            "finished": datetime.datetime.now(datetime.timezone.utc), "commit": _commit()}


def compare(url: str, proj: Path, scale: LoadScale, rng: random.Random) -> dict:
    """dbtool's side, the release rolled back, then psql's side (which leaves the release applied,
    unrecorded)."""
    log("dbtool side")
    dbtool_side = run_side("dbtool", url, proj, scale, rng, probes=scale.probes)
    log(f"  {_line(dbtool_side)}")
    undo_release(url, proj)
    log("psql side")
    psql_side = run_side("psql", url, proj, scale, rng)
    log(f"  {_line(psql_side)}")
    return {"dbtool": dbtool_side, "psql": psql_side}


def _line(side: dict) -> str:
    d, a = side["windows"]["during"], side["applied"]
    return (f"{side['side']}: exit {a['exit']} in {a['seconds']:.1f} s, attempts {a.get('attempts')}; during: "
            f"{d['attempted']} transactions, {d['failed']} failed, max {d['max_ms'] or 0:.0f} ms")


def _commit() -> str:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return head.stdout.strip() + (" with uncommitted changes" if dirty else "")


def saved() -> dict | None:
    """The latest saved load run: full scale when there is one, else small."""
    for name in ("full", "small"):
        path = RESULTS / f"load-{name}.pickle"
        if path.is_file():
            return pickle.loads(path.read_bytes())
    return None


# ----- the report (section 8) --------------------------------------------------------------------

def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.1f} ms" if v < 100 else f"{v:,.0f} ms"


def _budget(d: dict) -> float:
    """Seconds dbtool keeps trying before it gives up, on average (pauses are 3/4 of their ceiling)."""
    pauses = sum(0.75 * min(lockretry._seconds(d["lock_retry_max_delay"]),
                            lockretry._seconds(d["lock_retry_delay"]) * 2 ** (n - 1)) for n in range(1, d["lock_retries"] + 1))
    return pauses + (d["lock_retries"] + 1) * d["lock_timeout_s"]


def _reader(rd: dict) -> str:
    return f"{rd['lead_s']:.1f} s, {rd['held_s']:.1f} s, {'committed' if rd['ok'] else rd['error']}"


def _max_stall(side: dict) -> float:
    return (side["windows"]["during"]["max_ms"] or 0) / 1000


def summary_rows(r: dict | None) -> list[str]:
    if not r:
        return []
    d = r["sides"]["dbtool"]
    failed = sum(w["failed"] for w in d["windows"].values())
    stall = _max_stall(d) / d["lock_timeout_s"]
    return [f"| 8. under load: failed application transactions, dbtool migrate | {FAIL_GOAL} | {failed} | — | "
            f"{'met' if failed <= FAIL_GOAL else '**missed**'} |",
            f"| 8. under load: longest stall during dbtool migrate / lock_timeout ({d['lock_timeout']}) | "
            f"≤ {STALL_GOAL}x | {stall:.2f}x | — | {'met' if stall <= STALL_GOAL else '**missed**'} |"]


def missed(r: dict | None) -> list[tuple[str, str]]:
    if not r:
        return []
    d = r["sides"]["dbtool"]
    out = []
    failed = sum(w["failed"] for w in d["windows"].values())
    if failed > FAIL_GOAL:
        out.append(("load.failed", str(failed)))
    if _max_stall(d) / d["lock_timeout_s"] > STALL_GOAL:
        out.append(("load.stall", f"{_max_stall(d) / d['lock_timeout_s']:.2f}x"))
    return out


def section(r: dict | None) -> str:
    if not r:
        return ""
    s, d, p = r["scale"], r["sides"]["dbtool"], r["sides"]["psql"]
    cmd = "python -m bench.load" + (" --full" if s["name"] == "full" else "")
    rows = ["| | `dbtool migrate` | `psql -f` | goal |", "|---|---:|---:|---|"]
    for name in ("before", "during", "after"):
        wd, wp = d["windows"][name], p["windows"][name]
        rows.append(f"| {name}: application transactions, failed | {wd['attempted']:,}, {wd['failed']} "
                    f"| {wp['attempted']:,}, {wp['failed']} | 0 failed |")
        rows.append(f"| {name}: p50 / p99 / max | {_ms(wd['p50_ms'])} / {_ms(wd['p99_ms'])} / {_ms(wd['max_ms'])} "
                    f"| {_ms(wp['p50_ms'])} / {_ms(wp['p99_ms'])} / {_ms(wp['max_ms'])} | "
                    + (f"max ≤ {STALL_GOAL:g} x lock_timeout = {STALL_GOAL * d['lock_timeout_s']:g} s |"
                       if name == "during" else "|"))
    rows.append(f"| during: transactions slower than lock_timeout ({d['lock_timeout']}) | {d['stalled']} "
                f"| {p['stalled']} | |")
    rows.append(f"| the release: time, exit code | {d['applied']['seconds']:.1f} s, {d['applied']['exit']} "
                f"| {p['applied']['seconds']:.1f} s, {p['applied']['exit']} | |")
    attempts = ", ".join(f"{k.split('_')[0]}: {v}" for k, v in (d["applied"].get("attempts") or {}).items())
    rows.append(f"| attempts per migration | {attempts or '-'} | one each (psql waits) | |")
    rows.append("| long reader: started before the migration, held deals for, ended | "
                + " | ".join(_reader(x["reader"]) for x in (d, p)) + " | not ended by the migration |")
    waits = sorted(w * 1000 for w in d["probe_waits_s"])
    probe = ""
    if waits:
        probe = (f"\n\n**Choosing lock_timeout.** Under this load, with no long transaction in the way, an ACCESS "
                 f"EXCLUSIVE lock on deals ({len(waits)} probes, `LOCK TABLE public.deals`, 0.25 s apart, before the "
                 f"dbtool side) was had in {_ms(statistics.median(waits))} at the median and {_ms(waits[-1])} at "
                 f"the longest: what a migration's ALTER TABLE waits when nothing holds the table long, and what "
                 f"the application waits behind it. The default lock_timeout, {d['lock_timeout']}, is "
                 f"{d['lock_timeout_s'] * 1000 / max(waits[-1], 0.001):,.0f} times that longest wait, so it fires "
                 "only behind a transaction that really is long, and it is the bound of each stall the migration "
                 f"causes (the old default, 5 s, let each attempt stall the application five times as long). "
                 f"The retries ({d['lock_retries']}, the pause from {d['lock_retry_delay']} doubling up to "
                 f"{d['lock_retry_max_delay']}, jittered: about {_budget(d) / 60:.0f} minutes and "
                 f"{d['lock_retries'] + 1} stalls of at most lock_timeout before dbtool gives up) wait out a report "
                 "or a batch job of that length; a longer one, such as a pg_dump, needs `--lock-retries` or a "
                 "quieter moment.")
    stderr = "\n".join(d["applied"]["stderr"]) or "(nothing)"
    ledger = "\n".join(d.get("log", [])) or "(nothing)"
    errors = ""
    if d["errors"] or p["errors"]:
        errors = "\n\nApplication errors: " + "; ".join((d["errors"] + p["errors"])[:5])
    return f"""## 8. Migrations under live traffic

Written by `{cmd}` on {r['finished']:%Y-%m-%d %H:%M} UTC in {r['wall_seconds'] / 60:.1f} minutes (commit
{r['commit']}), on its own throwaway cluster (PostgreSQL {r['postgres']}, {r['nproc']} CPUs, the settings of
`make bench{'-full' if s['name'] == 'full' else ''}`): {s['tenants']:,} tenants x {s['deals_per_tenant']:,} deals
(**{r['data']['deals']:,} deals**, table and indexes {r['data']['deals_size']}), seeded with `dbtool seed`.
{s['clients']} application clients (threads, each its own connection as `maplatform_app`, each its own
tenant, its verified token set in every transaction with `set_tenant_context`) run transactions of their
tenant without stopping, a random pause of up to {s['think_s'] * 1000:.0f} ms between two: list deals
(35 %), a deal page with its activities (25 %), update a deal (15 %), log an activity and its timeline
event (15 %), read the timeline with `latest_activity()` (10 %). After {s['warmup_s']:g} s of warm-up and a
{s['before_s']:g} s *before* window, a **long reader** (as the application: it reads its tenant's deals
and keeps its transaction open for {s['hold_s']:g} s, holding deals' ACCESS SHARE lock) starts at a random
moment {s['lead_s'][0]:g}-{s['lead_s'][1]:g} s before the release is applied; *during* lasts until the
release is applied, *after* {s['after_s']:g} s more. A transaction counts in the window in which it ended;
its latency is from BEGIN to the end of COMMIT. The same run, the same seed, then the release rolled back
(`dbtool rollback`) and applied again by `psql -f` (each file, `-1` when transactional, no
lock_timeout: the server's default, none).

The release, `bench/release/` on top of the real migrations (numbered after them: {', '.join(r['release'])}):
the first adds a nullable column and a column with a constant default to deals (catalog changes, under ACCESS
EXCLUSIVE), the second builds an index `CONCURRENTLY` (`-- transactional: false`), the third adds a foreign key
and a CHECK `NOT VALID`, the fourth validates both.

{chr(10).join(rows)}

- **dbtool**: its ALTER TABLE waits behind the long reader for lock_timeout, is rolled back (the
  application's queries queued behind it go on), and is retried with growing pauses under the migration
  lock until the reader is gone: every stall the release causes lasts at most about lock_timeout.
  CREATE INDEX CONCURRENTLY and VALIDATE CONSTRAINT take locks that block no application statement; the
  index build waits for the reader's transaction to end (it has no lock_timeout: it blocks nobody while
  it waits).
- **psql**: its ALTER TABLE waits behind the long reader with no limit, and every application transaction
  that touches deals queues behind it until the reader commits: the longest stall is what was left of
  the reader's transaction. No transaction failed here because the clients have no statement_timeout;
  an application whose timeouts are shorter than that stall sees them fail.{probe}

What dbtool printed on stderr (`--json` run; the retries are warnings, printed with `-q` too):

```
{stderr}
```

and `dbtool log` afterwards (the attempts that timed out are in the ledger, `lock-timeout`):

```
{ledger}
```{errors}"""


# ----- command line -----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="1,000 tenants x 1,000 deals (1,000,000 deals)")
    ap.add_argument("--clients", type=int, help="application clients (default 8)")
    ap.add_argument("--seed", type=int, default=15, help="random seed of the timing and the clients (default 15)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"), help="report file (default: %(default)s)")
    ap.add_argument("--keep", action="store_true", help="keep the cluster's folder (its log) after the run")
    args = ap.parse_args(argv)
    scale = FULL if args.full else SMALL
    if args.clients:
        scale = LoadScale(**{**asdict(scale), "clients": args.clients})
    results = measure(scale, args.seed, args.keep)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"load-{scale.name}.pickle"
    path.write_bytes(pickle.dumps(results))
    log(f"figures saved in {path}")
    from . import run  # the report of the latest `python -m bench` run, with this section

    if run.write_saved_report(args.out):
        log(f"wrote {args.out}")
    else:
        log(f"no saved `python -m bench` run to write {args.out} from: run `make bench`, which includes this section")


if __name__ == "__main__":
    main()
