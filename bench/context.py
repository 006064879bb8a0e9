"""Where the verified tenant context's per-statement cost goes (docs/benchmarks.md, section 1's notes).

    DATABASE_URL=<a migrated, seeded database> python -m bench.context [--runs N]

`make demo` gives one. As the superuser, in autocommit (each statement its own transaction, as the
benchmark runs them), the dashboard query written by hand is run with its tenant found by a
sub-select of each form below, and EXPLAIN ANALYZE reports the InitPlan's own time and the
statement's planning and execution (medians, the forms taken in turn). The variants are temporary
functions of this session (pg_temp): each removes one ingredient of app.verified_tenant(). Last, the
same call repeated inside one transaction, where PL/pgSQL's per-transaction costs are paid once.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics

import psycopg

from . import sessions

QUERY = ("SELECT stage, count(*) FROM public.deals WHERE archived_at IS NULL AND tenant_id = ({}) "
         "GROUP BY stage ORDER BY stage")
LOOKUP = """SELECT t.tenant_id INTO tenant FROM app.tenant_tokens AS t
    WHERE t.token_hash = sha256(convert_to(current_setting('app.tenant_token', TRUE), 'UTF8'))
      AND t.expires_at > now();"""
VARIANTS = {  # name: (function attributes, body)
    "lookup_no_set": ("SECURITY DEFINER", LOOKUP),
    "lookup_plain": ("", LOOKUP),
    "setting_definer": ("SECURITY DEFINER SET search_path = pg_catalog, pg_temp",
                        "tenant := current_setting('bench.tenant')::UUID;"),
}
FORMS = [
    ("app.verified_tenant() (0017: SECURITY DEFINER, SET search_path, the lookup)", "SELECT app.verified_tenant()"),
    ("the lookup, SECURITY DEFINER, no SET clause", "SELECT pg_temp.lookup_no_set()"),
    ("the lookup alone, neither", "SELECT pg_temp.lookup_plain()"),
    ("SECURITY DEFINER and SET, a setting instead of the lookup", "SELECT pg_temp.setting_definer()"),
    ("a setting in the sub-select (the forgeable context before 0017)", "SELECT current_setting('bench.tenant')::UUID"),
]


def _explain(conn: psycopg.Connection, sql: str) -> tuple[float, float, float]:
    lines = [r[0] for r in conn.execute("EXPLAIN (ANALYZE, SUMMARY) " + sql)]
    init = next(i for i, line in enumerate(lines) if "InitPlan" in line)
    initplan = float(re.search(r"actual time=[\d.]+\.\.([\d.]+)", lines[init + 1]).group(1))
    planning = float(lines[-2].split(":")[1].split()[0])
    execution = float(lines[-1].split(":")[1].split()[0])
    return initplan * 1000, planning * 1000, execution * 1000


def _repeated(conn: psycopg.Connection, n: int = 20000) -> float:
    notes: list[str] = []
    conn.add_notice_handler(lambda d: notes.append(d.message_primary or ""))
    conn.execute(f"""DO $$ DECLARE s TIMESTAMPTZ := clock_timestamp(); x UUID; BEGIN
        FOR i IN 1..{n} LOOP x := app.verified_tenant(); END LOOP;
        RAISE NOTICE '%', extract(EPOCH FROM clock_timestamp() - s) * 1e6 / {n}; END $$""")
    return float(notes[-1])


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    args.add_argument("--runs", type=int, default=300)
    runs = args.parse_args().runs
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        sessions.add_key(conn)
        tenant = conn.execute("SELECT tenant_id FROM public.deals GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
        conn.execute("SELECT public.set_tenant_context_for_session(%s)", [sessions.TOKENS.token(tenant)])
        conn.execute("SELECT set_config('bench.tenant', %s, false)", [str(tenant)])
        for name, (attrs, body) in VARIANTS.items():
            conn.execute(f"CREATE FUNCTION pg_temp.{name}() RETURNS UUID LANGUAGE plpgsql STABLE {attrs} "
                         f"AS $$ DECLARE tenant UUID; BEGIN {body} RETURN tenant; END $$")
        samples: dict[str, list] = {label: [] for label, _ in FORMS}
        for _ in range(runs):
            for label, form in FORMS:
                samples[label].append(_explain(conn, QUERY.format(form)))
        print(f"dashboard query by hand, tenant from a sub-select; medians of {runs} runs, µs")
        print(f"{'sub-select':78} {'InitPlan':>9} {'planning':>9} {'execution':>10}")
        for label, rows in samples.items():
            init, plan, run = (statistics.median(col) for col in zip(*rows))
            print(f"{label:78} {init:9.0f} {plan:9.0f} {run:10.0f}")
        print(f"app.verified_tenant() called repeatedly inside one transaction: {_repeated(conn):.1f} µs a call")


if __name__ == "__main__":
    main()
