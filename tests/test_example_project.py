"""examples/bookshop, a second project with nothing of the M&A schema (no TimescaleDB, no pg_cron, no
tenancy), driven through dbtool's commands as its users would: in-process through the CLI, and the
console script run from the project's own folder. Each test works on a copy of the example."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import psycopg
import pytest

from cli_support import DBTOOL, run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "bookshop"


@pytest.fixture
def shop(tmp_path) -> Path:
    root = tmp_path / "bookshop"
    shutil.copytree(EXAMPLE, root)
    return root


def dbtool(shop: Path, *args: str, url: str | None = None):
    extra = ["--project", str(shop)] + (["--database-url", url] if url else [])
    return run(*args, *extra)


def test_migrate_waits_the_view_for_its_column_then_status_rollback_and_migrate_again(shop, empty_db, conn_to):
    res = dbtool(shop, "migrate", "--to", "0001", "--json", url=empty_db)
    assert res.exit_code == 0, res.output
    waiting = json.loads(res.stdout)["repeatables_pending"]
    assert [w["path"] for w in waiting] == ["sql/views/public.book_list.sql"]  # it reads price_cents, of 0002
    assert dbtool(shop, "migrate", url=empty_db).exit_code == 0
    assert dbtool(shop, "status", "--exit-code", url=empty_db).exit_code == 0
    c = conn_to(empty_db)
    c.execute("INSERT INTO public.authors (full_name) VALUES ('Ann Author')")
    c.execute("INSERT INTO public.books (author_id, title, published, price_cents) "
              "SELECT id, t, t = 'Out', 900 FROM public.authors, unnest(ARRAY['Out', 'Draft']) AS t")
    assert c.execute("SELECT public.books_by('Ann Author')").fetchall() == [("Draft",), ("Out",)]
    with c.transaction(force_rollback=True):
        c.execute("SET LOCAL ROLE bookshop_reader")
        assert c.execute("SELECT title FROM public.books").fetchall() == [("Out",)]  # the policy
    res = dbtool(shop, "rollback", "--yes", url=empty_db)
    assert res.exit_code == 0, res.output
    assert c.execute("SELECT to_regclass('public.book_list')").fetchone() == (None,)
    assert dbtool(shop, "migrate", url=empty_db).exit_code == 0
    assert c.execute("SELECT count(*) FROM public.book_list").fetchone() == (2,)


def test_verify_snapshot_drift_lint_and_doctor_are_clean(shop, empty_db, server):
    assert dbtool(shop, "migrate", url=empty_db).exit_code == 0
    res = run("verify", "--project", str(shop), "--server-url", server.url())
    assert res.exit_code == 0, res.output
    res = dbtool(shop, "snapshot", "--out", str(shop / "schema" / "snapshot.yaml"), url=empty_db)
    assert res.exit_code == 0, res.output
    res = dbtool(shop, "drift", url=empty_db)
    assert res.exit_code == 0 and "no drift" in res.output, res.output
    res = dbtool(shop, "lint", url=empty_db)
    assert res.exit_code == 0 and "0 error(s), 0 warning(s)" in res.output, res.output
    res = dbtool(shop, "doctor", "--json", url=empty_db)
    rows = json.loads(res.stdout)
    assert res.exit_code == 0 and {r["status"] for r in rows} == {"ok"}, rows
    assert not [r for r in rows if "timescale" in r["name"] or "cron" in r["name"]]


def test_check_rls_says_the_example_declares_no_tenancy_instead_of_auditing_the_m_and_a_roles(shop, empty_db):
    assert dbtool(shop, "migrate", url=empty_db).exit_code == 0
    res = dbtool(shop, "check", "rls", url=empty_db)
    assert res.exit_code == 2 and "declares no tenancy" in res.output, res.output
    assert "maplatform" not in res.output


def test_the_dev_cluster_of_the_example_preloads_nothing_it_does_not_need(shop):
    try:
        res = run("dev", "up", "--project", str(shop))
        assert res.exit_code == 0, res.output
        url = res.stdout.strip()
        with psycopg.connect(url) as c:
            assert c.execute("SELECT current_database(), current_setting('shared_preload_libraries')").fetchone() \
                == ("bookshop", "")
        assert run("migrate", "--project", str(shop), "--database-url", url).exit_code == 0
    finally:
        run("dev", "destroy", "--yes", "--project", str(shop))


def test_the_console_script_finds_the_project_from_its_folder(shop, empty_db):
    env = {k: v for k, v in os.environ.items() if k not in ("DBTOOL_PROJECT",)}
    env["DATABASE_URL"] = empty_db
    for args in (["migrate", "-q"], ["status"]):
        p = subprocess.run([DBTOOL, *args], cwd=shop, env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
    assert ": at 0002_add_book_price; 2 applied" in p.stdout  # the project found from its folder, at its head


@pytest.mark.slow
def test_the_built_wheel_alone_runs_the_example_from_its_folder(shop, empty_db, server, tmp_path):
    """dbtool as a team would install it: the wheel in a fresh virtual environment, run from the
    project's folder. Its dependencies come from this environment (a .pth file: no network needed
    for them; pip fetches the build backend, setuptools, from the package index or its cache);
    dbtool itself only from the wheel, so a file missing from it fails here."""
    root = Path(__file__).resolve().parent.parent
    source = tmp_path / "source"  # built from a copy: setuptools writes build/ and *.egg-info beside it
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    shutil.copytree(root / "dbtool", source / "dbtool", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site_dir = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    deps = sysconfig.get_paths()["purelib"]  # this environment's: psycopg, typer, sqlfluff, ...
    (Path(site_dir) / "dbtool-test-dependencies.pth").write_text(deps + "\n")
    wheel = next(dist.glob("dbtool-*.whl"))
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("DBTOOL_PROJECT", "PYTHONPATH")}  # the wheel's dbtool only
    where = subprocess.run([python, "-c", "import dbtool; print(dbtool.__file__)"], capture_output=True, text=True,
                           cwd=tmp_path, env=env, timeout=60)
    assert where.stdout.startswith(str(venv)), where
    env["DATABASE_URL"] = empty_db
    for args in (["migrate", "-q"], ["status", "--exit-code"], ["verify", "--server-url", server.url()],
                 ["rollback", "--yes", "-q"], ["migrate", "-q"]):
        p = subprocess.run([venv / "bin" / "dbtool", *args], cwd=shop, env=env, capture_output=True, text=True,
                           timeout=300)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
