"""`dbtool init`: a new project, made only where nothing is, and usable at once on a real server
without anything of the M&A schema."""

from __future__ import annotations

import json

import psycopg
import pytest

from dbtool import config
from dbtool.commands.init import GITIGNORE, init

from cli_support import run

MADE = ["dbtool.toml", "migrations/", "migrations/0001_create_example.sql",
        "migrations/0001_create_example.rollback.sql", "sql/functions/", "sql/policies/", "sql/views/", ".gitignore"]


def contents(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_init_makes_a_project_in_an_empty_folder(tmp_path):
    root = tmp_path / "shop"
    res = init(root)
    assert res.created == MADE and res.kept == []
    project = config.load(root)
    assert project.get("database") == "shop" and project.section("lint")["large_tables"] == []
    assert (root / ".gitignore").read_text().endswith(".dbtool/\n")


def test_init_twice_changes_nothing(tmp_path):
    init(tmp_path / "shop")
    before = contents(tmp_path / "shop")
    res = init(tmp_path / "shop")
    assert res.created == [] and contents(tmp_path / "shop") == before


def test_init_never_overwrites_a_file_and_adds_no_example_next_to_real_migrations(tmp_path):
    root = tmp_path / "shop"
    (root / "migrations").mkdir(parents=True)
    (root / "migrations" / "0001_create_books.sql").write_text("-- Why: books.\nCREATE TABLE public.books (id int);\n")
    (root / ".gitignore").write_text("node_modules/\n")
    res = init(root)
    assert not (root / "migrations" / "0001_create_example.sql").exists()
    # the dev cluster's password file must not be committed: .dbtool/ appended, nothing else touched
    assert ".gitignore (.dbtool/ added)" in res.created
    assert (root / ".gitignore").read_text() == "node_modules/\n" + GITIGNORE
    assert ".gitignore" in init(root).kept and (root / ".gitignore").read_text() == "node_modules/\n" + GITIGNORE


def test_init_puts_the_example_in_the_folders_the_configuration_names(tmp_path):
    (tmp_path / "dbtool.toml").write_text('migrations = "db/migrations"\nsql = "db/sql"\n')
    res = init(tmp_path)
    assert "db/migrations/0001_create_example.sql" in res.created and "db/sql/views/" in res.created
    assert not (tmp_path / "migrations").exists()


def test_a_folder_name_toml_must_quote_is_written_as_a_valid_string(tmp_path):
    root = tmp_path / 'we"ird\\name'
    init(root)
    assert config.load(root).get("database") == 'we"ird\\name'


def test_a_pyproject_that_configures_dbtool_gets_no_second_configuration(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.dbtool]\ndatabase = "shop"\n')
    assert "dbtool.toml" not in init(tmp_path).created
    (tmp_path / "dbtool.toml").write_text('database = "other"\n')
    with pytest.raises(Exception, match="both dbtool.toml and pyproject.toml"):
        config.load(tmp_path)


def test_init_on_a_file_is_a_usage_error(tmp_path):
    (tmp_path / "shop").write_text("")
    res = run("init", str(tmp_path / "shop"))
    assert res.exit_code == 2 and "is a file, not a folder" in res.output


def test_the_new_project_migrates_rolls_back_and_lints_on_a_real_server(tmp_path, empty_db, conn_to):
    root = tmp_path / "shop"
    res = run("init", str(root), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["created"] == MADE
    for args in (["migrate"], ["status", "--exit-code"], ["rollback", "--yes"], ["migrate"]):
        res = run(*args, "--database-url", empty_db, "--project", str(root))
        assert res.exit_code == 0, (args, res.output)
    assert conn_to(empty_db).execute("SELECT count(*) FROM public.example").fetchone() == (0,)
    res = run("lint", "--project", str(root), "--database-url", empty_db)
    assert res.exit_code == 0 and "0 error(s), 0 warning(s)" in res.output, res.output
    with psycopg.connect(empty_db) as c:  # nothing of the M&A schema was needed or made
        assert c.execute("SELECT count(*) FROM pg_namespace WHERE nspname IN ('app', 'ops', 'timeline')").fetchone() == (0,)
