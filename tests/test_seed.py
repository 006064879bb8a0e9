"""`dbtool seed` on the real migrated schema, at a small scale: the data satisfies every constraint,
has the documented shape, is isolated per tenant, and is repeatable.

The expensive part is seeding, so each module-scoped database is seeded once and shared by the
read-only tests; tests that write get a fresh clone."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from dbtool import config
from dbtool.commands import check_rls as check_rls_cmd
from dbtool.commands import seed as seed_loader
from dbtool.errors import DbtoolError
from schema_support import APP, acting_as, cloned_db, tenant_column, tenant_tables

ROOT = Path(__file__).resolve().parent.parent
seed_cmd = seed_loader.generator(config.load(ROOT))  # seed/generate.py, loaded as `dbtool seed` loads it
AS_OF = datetime.date(2025, 6, 1)
SCALE = seed_cmd.Scale(tenants=4, deals_per_tenant=30, seed="alpha", as_of=AS_OF)
DBTOOL = [sys.executable, "-m", "dbtool.cli"]


@pytest.fixture(scope="module")
def seeded(server):
    with cloned_db(server, "seed_a") as url:
        seed_cmd.seed(url, SCALE)
        yield url


@pytest.fixture(scope="module")
def seeded_again(server):
    """The same seed in another database."""
    with cloned_db(server, "seed_b") as url:
        seed_cmd.seed(url, SCALE)
        yield url


@pytest.fixture(scope="module")
def tables(seeded):
    with psycopg.connect(seeded, autocommit=True) as c:
        return tenant_tables(c)


def _ident(table: str) -> sql.Composable:
    return sql.Identifier(*table.split(".")) if "." in table else sql.Identifier(
        seed_cmd.SCHEMA_OF.get(table, "public"), table)


def _count(conn, table: str) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_ident(table))).fetchone()[0]


def checksums(url: str) -> dict[str, str]:
    """md5 of each seeded table's rows, in a fixed order: equal checksums, equal content."""
    with psycopg.connect(url, autocommit=True) as c:
        return {t: c.execute(sql.SQL("SELECT md5(coalesce(string_agg(x::TEXT, E'\\n' ORDER BY x::TEXT), '')) "
                                     "FROM {} AS x").format(_ident(t))).fetchone()[0]
                for t in seed_cmd.TABLES}


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PGHOST", "PGDATABASE")}
    return subprocess.run([*DBTOOL, "seed", *args], capture_output=True, text=True, env=env, timeout=300)


# ----- shape and constraints ---------------------------------------------------------------------

def test_every_table_holds_the_documented_number_of_rows(seeded):
    with psycopg.connect(seeded, autocommit=True) as c:
        counts = {t: _count(c, t) for t in seed_cmd.TABLES}
    expected = seed_cmd.expected_rows(SCALE)
    assert counts == expected
    assert expected["deals"] == 4 * 30 and expected["pipeline_stages"] == 4 * 8
    assert expected["activity_timeline"] == seed_cmd.EVENTS_PER_DEAL * 120
    assert expected["users"] == 4 * SCALE.users_per_tenant


def test_every_tenant_table_gets_rows_for_every_tenant(seeded, tables):
    with psycopg.connect(seeded, autocommit=True) as c:
        empty = [(t, n) for t in tables for n in c.execute(sql.SQL(
            "SELECT count(*) FILTER (WHERE c.n IS NULL) FROM public.tenants AS tn LEFT JOIN "
            "(SELECT {col} AS tid, count(*) AS n FROM {t} GROUP BY 1) AS c ON c.tid = tn.id").format(
                col=sql.Identifier(tenant_column(t)), t=_ident(t))).fetchone() if n]
    assert not empty, f"tables with a tenant that has no rows: {empty}"


def test_no_row_breaks_a_foreign_key_or_check_constraint(seeded):
    """Re-check every FOREIGN KEY and CHECK of public's tables against the data, as VALIDATE CONSTRAINT
    would: a seed that bypassed triggers (session_replication_role) would fail here."""
    with psycopg.connect(seeded, autocommit=True) as c:
        constraints = c.execute("""
            SELECT con.conname, con.conrelid::regclass::text, con.contype, pg_get_constraintdef(con.oid),
                   con.confrelid::regclass::text,
                   ARRAY(SELECT attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY i),
                   ARRAY(SELECT attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                         JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY i)
            FROM pg_constraint con JOIN pg_class r ON r.oid = con.conrelid
            WHERE r.relnamespace = 'public'::regnamespace AND r.relkind IN ('r', 'p') AND con.contype IN ('f', 'c')
            """).fetchall()
        broken = []
        for name, table, kind, definition, target, cols, fcols in constraints:
            if kind == "c":
                check = definition.removeprefix("CHECK ").removesuffix(" NOT VALID")
                q = sql.SQL("SELECT count(*) FROM {} WHERE NOT {}").format(_ident(table), sql.SQL(check))
            else:
                q = sql.SQL("SELECT count(*) FROM {t} AS x WHERE {notnull} AND NOT EXISTS "
                            "(SELECT 1 FROM {f} AS y WHERE {match})").format(
                    t=_ident(table), f=_ident(target),
                    notnull=sql.SQL(" AND ").join(sql.SQL("x.{} IS NOT NULL").format(sql.Identifier(a)) for a in cols),
                    match=sql.SQL(" AND ").join(sql.SQL("y.{} = x.{}").format(sql.Identifier(b), sql.Identifier(a))
                                                for a, b in zip(cols, fcols)))
            bad = c.execute(q).fetchone()[0]
            if bad:
                broken.append((table, name, bad))
    assert len(constraints) > 60
    assert not broken


def test_every_id_in_an_array_column_is_a_row_of_the_same_tenant(seeded):
    """The arrays the same-tenant triggers guard (team_ids, attachments, depends_on, mentions, ...)."""
    with psycopg.connect(seeded, autocommit=True) as c:
        guarded = c.execute("""
            SELECT DISTINCT tgrelid::regclass::text, convert_from(split_part(encode(tgargs, 'escape'), '\\000', 1)::bytea, 'UTF8'),
                   split_part(encode(tgargs, 'escape'), '\\000', 2)
            FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
            WHERE p.proname = 'enforce_same_tenant_ids'""").fetchall()
        assert len(guarded) >= 8
        bad, used = [], 0
        for table, column, target in guarded:
            n, total = c.execute(sql.SQL(
                "SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM {target} AS r WHERE r.tenant_id = x.tenant_id "
                "AND r.id = ref)), count(*) FROM {table} AS x CROSS JOIN LATERAL unnest(x.{col}) AS ref").format(
                    target=sql.SQL(target), table=sql.SQL(table), col=sql.Identifier(column))).fetchone()
            used += total > 0
            if n:
                bad.append((table, column, n))
    assert not bad
    assert used == len(guarded), "every guarded array column should hold ids in the seed"


def test_check_rls_finds_nothing_on_the_seeded_database(seeded, project):
    """Seeding creates activity_timeline's chunks; they copy the private hypertable's grants (none for a
    tenant-facing role), so the audit has nothing to report, there or anywhere else."""
    findings, checked = check_rls_cmd.check_rls(seeded, project)
    with psycopg.connect(seeded, autocommit=True) as c:
        chunks = c.execute("SELECT count(*) FROM timescaledb_information.chunks").fetchone()[0]
    assert checked >= 18 and chunks > 0
    assert findings == []


def test_deals_follow_the_pipeline(seeded):
    with psycopg.connect(seeded, autocommit=True) as c:
        rows = c.execute("""
            SELECT d.stage, count(*), min(d.probability), max(d.probability), max(ps.probability_default),
                   bool_and(jsonb_array_length(d.stage_history) >= 1
                            AND d.stage_history -> -1 ->> 'stage' = d.stage),
                   bool_and((d.actual_close_date IS NOT NULL) = (d.stage LIKE 'closed%%')),
                   count(DISTINCT d.owner_id), bool_and(d.value > 0)
            FROM public.deals d JOIN public.pipeline_stages ps ON ps.tenant_id = d.tenant_id AND ps.name = d.stage
            GROUP BY d.stage""").fetchall()
    by_stage = {r[0]: r[1:] for r in rows}
    assert set(by_stage) == {"prospecting", "qualification", "analysis", "negotiation", "due_diligence", "closing",
                             "closed_won", "closed_lost"}
    for stage, (n, lo, hi, default, history_ends_here, closed_dates, owners, positive) in by_stage.items():
        assert history_ends_here and closed_dates and positive, stage
        assert default - 5 <= lo <= hi <= default + 5, (stage, lo, hi, default)
    assert by_stage["closed_won"][1:3] == (100, 100) and by_stage["closed_lost"][1:3] == (0, 0)


def test_embeddings_are_unit_vectors_on_the_documented_share_of_documents(seeded):
    with psycopg.connect(seeded, autocommit=True) as c:
        n, worst, tenants = c.execute(
            "SELECT count(*), max(abs(public.vector_norm(embeddings) - 1)), count(DISTINCT tenant_id) "
            "FROM public.documents WHERE embeddings IS NOT NULL").fetchone()
    assert n == SCALE.tenants * SCALE.embedded_per_tenant and tenants == SCALE.tenants
    assert worst < 1e-5


def test_full_text_search_finds_documents_by_their_summaries(seeded):
    with psycopg.connect(seeded, autocommit=True) as c:
        hits = c.execute("SELECT count(*) FROM public.documents "
                         "WHERE search_vector @@ websearch_to_tsquery('english', 'revenue growth')").fetchone()[0]
        docs = _count(c, "documents")
    assert 0 < hits < docs


def test_timeline_events_cover_the_ninety_days_before_as_of(seeded):
    with psycopg.connect(seeded, autocommit=True) as c:
        first, last = c.execute("SELECT min(time), max(time) FROM timeline.activity_timeline").fetchone()
    as_of = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)
    assert as_of - datetime.timedelta(days=91) <= first < as_of - datetime.timedelta(days=88)
    assert as_of - datetime.timedelta(days=1) < last <= as_of


# ----- isolation ---------------------------------------------------------------------------------

def test_each_seeded_tenant_sees_exactly_its_own_rows_as_the_application(seeded, tables, conn_to):
    conn = conn_to(seeded)
    tenants = [r[0] for r in conn.execute("SELECT id FROM public.tenants ORDER BY id")]
    expected = {(t, tid): conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
        _ident(t), sql.Identifier(tenant_column(t))), [tid]).fetchone()[0] for t in tables for tid in tenants}
    seen = {}
    for tid in tenants:
        with acting_as(conn, APP, tid):
            for t in tables:
                total, mine = conn.execute(sql.SQL("SELECT count(*), count(*) FILTER (WHERE {} = %s) FROM {}").format(
                    sql.Identifier(tenant_column(t)), _ident(t)), [tid]).fetchone()
                assert total == mine, f"{t}: tenant {tid} sees {total - mine} row(s) of other tenants"
                seen[(t, tid)] = total
    assert seen == expected
    assert all(v > 0 for v in seen.values())


# ----- repeatability -----------------------------------------------------------------------------

def test_the_same_seed_gives_identical_data(seeded, seeded_again):
    assert checksums(seeded) == checksums(seeded_again)


def test_another_seed_gives_other_data(seeded, server):
    with cloned_db(server, "seed_c") as url:
        seed_cmd.seed(url, seed_cmd.Scale(SCALE.tenants, SCALE.deals_per_tenant, seed="beta", as_of=AS_OF))
        other = checksums(url)
    mine = checksums(seeded)
    assert all(other[t] != mine[t] for t in seed_cmd.TABLES)


def test_two_connections_sharing_the_rows_give_the_same_data_as_one(server):
    """--jobs 2 splits each large step between two connections; every value is a function of its row
    number, so the result is identical to a single connection's."""
    scale = seed_cmd.Scale(tenants=5, deals_per_tenant=450, seed="gamma", as_of=AS_OF)
    assert any(len(st.slices(2)) == 2 for st in seed_cmd.steps(scale))
    with cloned_db(server, "seed_j1") as one, cloned_db(server, "seed_j2") as two:
        seed_cmd.seed(one, scale, jobs=1, vacuum=False)
        res = seed_cmd.seed(two, scale, jobs=2, vacuum=False)
        assert res.scale["jobs"] == 2
        assert checksums(one) == checksums(two)


def test_a_failure_after_committed_levels_leaves_no_rows(server, monkeypatch):
    scale = seed_cmd.Scale(tenants=5, deals_per_tenant=450, seed="delta", as_of=AS_OF)
    real = seed_cmd.steps
    again = seed_cmd.Step("notifications", "18_notifications", 99, 3)  # the same ids again: duplicate keys
    monkeypatch.setattr(seed_cmd, "steps", lambda s: [st for st in real(s) if st.level < 3] + [again])
    with cloned_db(server, "seed_fail") as url:
        with pytest.raises(DbtoolError, match=r"^seeding notifications failed, nothing was written: 23505 "):
            seed_cmd.seed(url, scale, jobs=2, vacuum=False)
        with psycopg.connect(url, autocommit=True) as c:
            left = {t: _count(c, t) for t in seed_cmd.TABLES}
    assert set(left.values()) == {0}


# ----- the command line --------------------------------------------------------------------------

def test_cli_prints_rows_per_second_for_every_table_and_a_second_run_does_nothing(server):
    with cloned_db(server, "seed_cli") as url:
        res = run_cli("--small", "--database-url", url)
        assert res.returncode == 0, res.stderr
        for table in seed_cmd.TABLES:
            line = next((ln for ln in res.stderr.splitlines() if ln.startswith(table + " ")), None)
            assert line is not None and line.rstrip().endswith("rows/s"), (table, res.stderr)
        assert "seeded" in res.stdout and "rows/s" in res.stdout
        again = run_cli("--small", "--database-url", url)
        assert again.returncode == 0 and "nothing to do" in again.stdout
        other = run_cli("--tenants", "5", "--database-url", url)
        assert other.returncode == 2
        assert other.stderr.startswith("error: the database already holds 3 tenant(s)")


def test_cli_json_reports_every_table_with_its_rate_and_prints_no_progress(server):
    with cloned_db(server, "seed_json") as url:
        res = run_cli("--tenants", "2", "--deals-per-tenant", "5", "--seed", "json", "--json", "--database-url", url)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    data = json.loads(res.stdout)
    tables = {t["table"]: t for t in data["tables"]}
    assert set(seed_cmd.TABLES) <= set(tables)
    assert tables["deals"]["rows"] == 10 and tables["deals"]["rows_per_second"] > 0
    assert data["scale"]["tenants"] == 2 and data["scale"]["seed"] == "json" and data["already_seeded"] is False
    assert data["rows"] == sum(seed_cmd.expected_rows(seed_cmd.Scale(2, 5)).values())


@pytest.mark.parametrize("args, message", [
    (["--tenants", "0"], "error: --tenants must be at least 1 (got 0)"),
    (["--deals-per-tenant", "-3"], "error: --deals-per-tenant must be at least 1 (got -3)"),
    (["--small", "--tenants", "3"], "error: pass either --small or --tenants/--deals-per-tenant, not both"),
    (["--jobs", "0"], "error: --jobs must be between 1 and 16 (got 0)"),
])
def test_bad_options_are_one_line_errors_with_exit_2(args, message):
    res = run_cli(*args, "--database-url", "postgresql://nobody@127.0.0.1:1/none")
    assert res.returncode == 2
    assert res.stderr.strip() == message
    assert res.stdout == ""


def test_an_unmigrated_database_is_refused(empty_db):
    res = run_cli("--small", "--database-url", empty_db)
    assert res.returncode == 2
    assert res.stderr.splitlines()[0].startswith("error: the database has no table tenants, users, user_sessions")
    assert "dbtool migrate" in res.stderr


def test_a_role_under_row_level_security_is_refused_with_what_a_dba_must_grant(migrated_db, server, conn_to):
    admin = conn_to(migrated_db)
    admin.execute("DO $$BEGIN CREATE ROLE seed_plain LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$")
    admin.execute("GRANT maplatform_owner TO seed_plain")
    dbname = migrated_db.rsplit("/", 1)[1]
    res = run_cli("--small", "--database-url", server.url(dbname, user="seed_plain"))
    assert res.returncode == 3
    assert res.stderr.startswith("error: role seed_plain cannot seed")
    assert "ALTER ROLE seed_plain BYPASSRLS" in res.stderr
    assert _count(admin, "tenants") == 0


def test_a_step_shared_between_connections_covers_every_row_once_and_never_splits_a_pair():
    step = seed_cmd.Step("tasks", "14_tasks", 50_001, 2, pairs=True)
    for lanes in (2, 3, 4):
        parts = step.slices(lanes)
        assert len(parts) == lanes and parts[0][0] == 0 and parts[-1][1] == 50_000
        assert all(b + 1 == a2 for (_, b), (a2, _) in zip(parts, parts[1:]))
        assert all(b % 2 == 1 for _, b in parts[:-1])  # rows 2k and 2k + 1 stay together
    assert seed_cmd.Step("tasks", "14_tasks", 500, 2).slices(2) == [(0, 499)]
    assert seed_cmd.Step("users", "02_users", 60_000, 0, split=False).slices(2) == [(0, 59_999)]
