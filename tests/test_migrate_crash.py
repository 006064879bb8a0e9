"""Concurrent and killed `dbtool migrate` processes: the advisory lock and the atomic record hold."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pytest

from cli_support import DBTOOL
from schema_support import schema_dump

# Kills per run of the crash test: 10 keep `make test` short; DBTOOL_CRASH_TRIALS=100 for a longer proof.
TRIALS = int(os.environ.get("DBTOOL_CRASH_TRIALS", "10"))



def applied_log(conn) -> list[tuple[str, int]]:
    return conn.execute("""SELECT subject, count(*) FROM dbtool.log WHERE operation = 'apply'
                           GROUP BY subject ORDER BY subject""").fetchall()


def start_migrate(url: str, project: str) -> subprocess.Popen:
    return subprocess.Popen([DBTOOL, "migrate", "-q", "-d", url, "--project", project, "--lock-wait", "120s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_eight_concurrent_migrates_apply_each_migration_exactly_once(tmp_project, empty_db, conn_to):
    tmp_project.copy_real_migrations()
    procs = [start_migrate(empty_db, str(tmp_project.path)) for _ in range(8)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert [rc for rc, _ in results] == [0] * 8, [e for _, e in results]
    c = conn_to(empty_db)
    ids = sorted(p.stem for p in (tmp_project.path / "migrations").glob("*.sql") if ".rollback" not in p.name)
    assert applied_log(c) == [(i, 1) for i in ids]
    assert c.execute("SELECT count(*) FROM dbtool.migrations").fetchone()[0] == len(ids)


@pytest.fixture
def slow_project(tmp_project):
    """Migrations that take long enough, statement by statement, for a kill to land inside each kind
    of step: a transactional migration, a non-transactional index build, repeatable objects."""
    t = tmp_project
    t.pair("0001_create_items", """\
        -- Why: a table with enough rows that an index build takes a while.
        CREATE TABLE public.items (id int PRIMARY KEY, code text, n int);
        INSERT INTO public.items SELECT g, md5(g::text), g % 97 FROM generate_series(1, 150000) g;
        SELECT pg_sleep(0.15);
        """, "DROP TABLE public.items;\n")
    t.pair("0002_add_labels", """\
        -- Why: several statements in one transaction, with time between them.
        CREATE TABLE public.labels (id int PRIMARY KEY, item_id int REFERENCES public.items (id));
        SELECT pg_sleep(0.1);
        ALTER TABLE public.items ADD COLUMN label_id int;
        SELECT pg_sleep(0.1);
        CREATE INDEX labels_item ON public.labels (item_id);
        """, "DROP INDEX public.labels_item;\nALTER TABLE public.items DROP COLUMN label_id;\nDROP TABLE public.labels;\n")
    t.pair("0003_index_items_code", """\
        -- Why: built concurrently, so it runs outside a transaction.
        -- transactional: false
        CREATE INDEX CONCURRENTLY IF NOT EXISTS items_code ON public.items (code);
        CREATE INDEX CONCURRENTLY IF NOT EXISTS items_n ON public.items (n, code);
        """, "DROP INDEX CONCURRENTLY IF EXISTS public.items_n;\nDROP INDEX CONCURRENTLY IF EXISTS public.items_code;\n")
    t.pair("0004_create_notes", """\
        -- Why: the last migration.
        CREATE TABLE public.notes (id int, body text);
        SELECT pg_sleep(0.1);
        """, "DROP TABLE public.notes;\n")
    t.write("sql/functions/public.item_count.sql", """\
        CREATE OR REPLACE FUNCTION public.item_count() RETURNS bigint LANGUAGE sql STABLE
        SET search_path = pg_catalog AS $$ SELECT count(*) FROM public.items $$;
        """)
    t.write("sql/views/public.item_codes.sql", """\
        CREATE OR REPLACE VIEW public.item_codes AS SELECT id, code FROM public.items;
        """)
    return t


def test_migrate_killed_at_random_moments_always_recovers_to_the_clean_catalog(slow_project, db_factory, conn_to):
    proj = str(slow_project.path)
    clean = db_factory()
    assert start_migrate(clean, proj).wait(timeout=120) == 0
    reference = schema_dump(clean)
    t0 = time.monotonic()
    assert start_migrate(db_factory(), proj).wait(timeout=120) == 0
    full = time.monotonic() - t0
    rng = random.Random(20261125)
    progress_at_kill = []
    for trial in range(TRIALS):
        url = db_factory()
        p = start_migrate(url, proj)
        time.sleep(rng.uniform(0, full))
        p.send_signal(signal.SIGKILL)
        p.wait()
        progress_at_kill.append(recorded_count(conn_to(url)))
        rerun = start_migrate(url, proj)
        rc, err = rerun.wait(timeout=120), rerun.stderr.read()
        assert rc == 0, f"trial {trial}: {err}"
        assert schema_dump(url) == reference, f"trial {trial}: catalog differs after recovery"
        c = conn_to(url)
        assert c.execute("SELECT count(*) FROM pg_index WHERE NOT indisvalid").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[0] == 0
    # The kills must have landed at different stages, or the test proves little.
    assert len(set(progress_at_kill)) >= 3, progress_at_kill


def recorded_count(conn) -> int:
    if not conn.execute("SELECT to_regclass('dbtool.migrations')").fetchone()[0]:
        return -1
    return conn.execute("SELECT count(*) FROM dbtool.migrations").fetchone()[0]
