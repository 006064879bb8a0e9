"""`dbtool lint`: each layer fed a bad file reports the exact rule and line; suppressions, config,
--json, --changed, exit codes; and the repository's own SQL lints clean (function bodies included).
Each of dbtool's own rules has its tests in tests/lint_rules/test_<rule module>.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cli_support import DBTOOL
from dbtool.commands.lint import lint
from dbtool.errors import UsageError
from dbtool.lint import rules
from lint_support import HEADER, base_tables, hits, large_and_small, lint_project, pair, suppressed_index
from scratch_support import databases_created_on

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def proj(tmp_project):
    """A scratch project with the repository's lint configuration (.sqlfluff, [tool.dbtool.lint])."""
    return lint_project(tmp_project)


def dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


# ----- safety (squawk) ---------------------------------------------------------------------------

def test_create_index_without_concurrently_on_an_existing_table_is_flagged_but_not_on_a_new_one(proj):
    base_tables(proj)
    pair(proj, "0002_add_deal_stage_index", "CREATE INDEX deals_stage_idx ON public.deals (stage);\n",
         "DROP INDEX public.deals_stage_idx;\n")
    rep = lint(proj.load(), layers=["safety"])
    assert hits(rep) == {("squawk/require-concurrent-index-creation", "migrations/0002_add_deal_stage_index.sql", 4)}


def test_add_column_not_null_without_default_is_flagged_on_an_existing_table_only(proj):
    base_tables(proj)
    pair(proj, "0002_add_deal_region", """
        ALTER TABLE public.deals ADD COLUMN region text NOT NULL;
        ALTER TABLE public.deals ADD COLUMN currency text NOT NULL DEFAULT 'GBP';
        """, "ALTER TABLE public.deals DROP COLUMN currency, DROP COLUMN region;\n")
    rep = lint(proj.load(), layers=["safety"])
    assert hits(rep) == {("squawk/adding-required-field", "migrations/0002_add_deal_region.sql", 4)}


def test_non_transactional_migration_may_build_an_index_concurrently(proj):
    base_tables(proj)
    proj.pair("0002_index_deal_stage",
              "-- transactional: false\n-- Why: build it without blocking writes.\n"
              "CREATE INDEX CONCURRENTLY deals_stage_idx ON public.deals (stage);\n",
              "-- Undo.\nDROP INDEX CONCURRENTLY public.deals_stage_idx;\n")
    rep = lint(proj.load(), layers=["safety"])
    assert rep.clean, [f.text() for f in rep.findings]


# ----- large tables (large_tables in [tool.dbtool.lint]: public.deals is one in this repository) ----

def test_squawks_rewrite_findings_on_a_large_table_are_errors_with_the_safe_pattern(proj):
    large_and_small(proj)
    pair(proj, "0002_change_deals", """
        ALTER TABLE public.deals ALTER COLUMN name TYPE varchar(100);
        ALTER TABLE public.deals ADD COLUMN token uuid DEFAULT gen_random_uuid();
        ALTER TABLE public.deals ADD COLUMN seen timestamptz DEFAULT now();
        ALTER TABLE public.small ALTER COLUMN name TYPE varchar(100);
        ALTER TABLE public.small ADD COLUMN token uuid DEFAULT gen_random_uuid();
        """)
    rep = lint(proj.load(), layers=["safety"])
    got = {(f.rule, f.line): f for f in rep.findings}
    assert set(got) == {("squawk/changing-column-type", 4), ("squawk/adding-field-with-default", 5),
                        ("squawk/changing-column-type", 7), ("squawk/adding-field-with-default", 8)}
    assert [got[k, n].severity for k, n in sorted(got, key=lambda x: x[1])] == ["error", "error", "warning", "warning"]
    assert "public.deals is in large_tables" in got["squawk/changing-column-type", 4].message
    assert got["squawk/changing-column-type", 4].hint.startswith("add a new column of the new type")
    assert "in batches" in got["squawk/adding-field-with-default", 5].hint
    assert "large_tables" not in got["squawk/changing-column-type", 7].message


# ----- bodies (plpgsql_check) --------------------------------------------------------------------

FUNCTIONS = """
    CREATE SCHEMA app;
    CREATE TABLE public.things (id bigint PRIMARY KEY, name text NOT NULL);
    CREATE FUNCTION app.thing_name(p_id bigint) RETURNS text
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog
    AS $$
    BEGIN
        RETURN (SELECT t.nickname FROM public.things AS t WHERE t.id = p_id);
    END
    $$;
    CREATE FUNCTION app.thing_ids() RETURNS SETOF text
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog
    AS $$
    BEGIN
        RETURN QUERY SELECT t.id FROM public.things AS t;
    END
    $$;
    CREATE FUNCTION app.things_stamp() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog
    AS $$
    BEGIN
        NEW.updated_at := now();
        RETURN NEW;
    END
    $$;
    CREATE TRIGGER things_stamp BEFORE UPDATE ON public.things
        FOR EACH ROW EXECUTE FUNCTION app.things_stamp();
    """


def test_function_body_selecting_a_missing_column_is_reported_at_its_line_in_the_file(proj, server):
    pair(proj, "0001_create_things", FUNCTIONS, "DROP TABLE public.things;\nDROP SCHEMA app CASCADE;\n")
    rep = lint(proj.load(), server_url=server.url(), layers=["bodies"])
    path = "migrations/0001_create_things.sql"
    assert hits(rep) == {("plpgsql/undefined-column", path, 10),   # t.nickname
                         ("plpgsql/datatype-mismatch", path, 17),  # bigint returned as text
                         ("plpgsql/undefined-column", path, 24)}   # NEW.updated_at, checked with its table
    assert "nickname" in next(f.message for f in rep.findings if f.line == 10)
    assert rep.layers["bodies"] == "ran"
    with server.admin() as c:  # the scratch database is gone
        assert c.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'dbtool_lint_%'").fetchone()[0] == 0


def test_temp_cluster_builds_the_function_body_database_without_any_server(proj):
    pair(proj, "0001_create_things", FUNCTIONS, "DROP TABLE public.things;\nDROP SCHEMA app CASCADE;\n")
    res = cli("--project", str(proj.path), "--layer", "bodies", "--temp-cluster")
    assert res.returncode == 1, res.stderr
    assert "migrations/0001_create_things.sql:10:5: error plpgsql/undefined-column" in res.stdout


def test_function_body_in_a_repeatable_file_is_reported_there(proj, server):
    pair(proj, "0001_create_things", FUNCTIONS.split("CREATE FUNCTION")[0],
         "DROP TABLE public.things;\nDROP SCHEMA app;\n")
    proj.write("sql/functions/app.thing_count.sql", """
        -- Counts things.
        CREATE OR REPLACE FUNCTION app.thing_count() RETURNS bigint
        LANGUAGE plpgsql STABLE SET search_path = pg_catalog
        AS $$
        BEGIN
            RETURN (SELECT count(*) FROM public.things AS t WHERE t.colour = 'red');
        END
        $$;
        """)
    rep = lint(proj.load(), server_url=server.url(), layers=["bodies"])
    assert hits(rep) == {("plpgsql/undefined-column", "sql/functions/app.thing_count.sql", 6)}


def test_without_a_database_the_bodies_layer_is_skipped_with_a_note(proj):
    pair(proj, "0001_create_things", FUNCTIONS, "DROP TABLE public.things;\nDROP SCHEMA app CASCADE;\n")
    rep = lint(proj.load(), layers=["bodies"])
    assert rep.clean and rep.layers["bodies"].startswith("skipped: no database")


def test_a_migrated_database_is_checked_in_place_and_left_as_it_was(proj, empty_db, conn_to):
    from dbtool.commands.migrate import migrate
    pair(proj, "0001_create_things", FUNCTIONS, "DROP TABLE public.things;\nDROP SCHEMA app CASCADE;\n")
    migrate(empty_db, proj.load(), sync_cron=False)
    rep = lint(proj.load(), database_url=empty_db, layers=["bodies"])
    assert ("plpgsql/undefined-column", "migrations/0001_create_things.sql", 10) in hits(rep)
    assert conn_to(empty_db).execute(
        "SELECT count(*) FROM pg_extension WHERE extname = 'plpgsql_check'").fetchone()[0] == 0


@pytest.mark.parametrize("source", ["DATABASE_URL", "PG variables"])
def test_bodies_are_checked_in_the_database_of_database_url_or_the_pg_variables(proj, empty_db, server, source):
    """As every command reads its database (README): --database-url, else DATABASE_URL, else PG*."""
    from dbtool.commands.migrate import migrate
    pair(proj, "0001_create_things", FUNCTIONS, "DROP TABLE public.things;\nDROP SCHEMA app CASCADE;\n")
    migrate(empty_db, proj.load(), sync_cron=False)
    env = {"DATABASE_URL": empty_db} if source == "DATABASE_URL" else {
        "PGHOST": server.host, "PGPORT": str(server.port), "PGUSER": server.user, "PGDATABASE": dbname(empty_db)}
    res = cli("--project", str(proj.path), "--layer", "bodies", env=env)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "migrations/0001_create_things.sql:10:5: error plpgsql/undefined-column" in res.stdout
    said = " ".join(res.stderr.split())
    assert f"note: function bodies are checked in {server.user}@{server.host}:{server.port}/{dbname(empty_db)}, " \
           f"from {'DATABASE_URL' if source == 'DATABASE_URL' else 'the PG* variables'}" in said
    # an explicit source wins: DATABASE_URL (here a server that does not exist) is not read
    res = cli("--project", str(proj.path), "--layer", "bodies", "--server-url", server.url(),
              env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"})
    assert res.returncode == 1 and "plpgsql/undefined-column" in res.stdout, res.stderr


def test_with_given_files_only_the_functions_they_define_are_checked(proj, server):
    pair(proj, "0001_create_things", FUNCTIONS, "DROP TABLE public.things;\nDROP SCHEMA app CASCADE;\n")
    pair(proj, "0002_create_thing_count", """
        CREATE FUNCTION app.thing_count() RETURNS bigint
        LANGUAGE plpgsql STABLE SET search_path = pg_catalog
        AS $$
        BEGIN
            RETURN (SELECT count(*) FROM public.things AS t WHERE t.colour = 'red');
        END
        $$;
        """, "DROP FUNCTION app.thing_count();\n")
    only = str(proj.path / "migrations" / "0002_create_thing_count.sql")
    rep = lint(proj.load(), paths=[only], server_url=server.url(), layers=["bodies"])
    assert hits(rep) == {("plpgsql/undefined-column", "migrations/0002_create_thing_count.sql", 8)}
    assert "plpgsql_check checked 1 of 4 (those defined in the files linted) PL/pgSQL function(s)" in rep.notes
    rep = lint(proj.load(), server_url=server.url(), layers=["bodies"])
    assert len(hits(rep)) == 4 and "plpgsql_check checked 4 PL/pgSQL function(s)" in rep.notes
    pair(proj, "0003_create_notes", "CREATE TABLE public.notes (id bigint);\n", "DROP TABLE public.notes;\n")
    with databases_created_on(server.url()) as created:  # no function there: no scratch database to build
        rep = lint(proj.load(), paths=[str(proj.path / "migrations" / "0003_create_notes.sql")],
                   server_url=server.url(), layers=["bodies"])
    assert created == set() and rep.clean and rep.layers["bodies"] == "ran"
    assert rep.notes == ["plpgsql_check: the files linted define no function"]


# ----- style: sqlfluff's findings are kept per file -----------------------------------------------

def test_sqlfluff_findings_are_reused_until_the_file_or_the_sqlfluff_config_changes(proj, monkeypatch):
    from sqlfluff.core import Linter
    calls = []
    real = Linter.lint_paths

    def counted(self, paths, *args, **kwargs):
        calls.append(sorted(Path(p).name for p in paths))
        return real(self, paths, *args, **kwargs)

    monkeypatch.setattr(Linter, "lint_paths", counted)
    pair(proj, "0001_create_deals", "create TABLE public.deals (id bigint);\n", "DROP TABLE public.deals;\n")
    first = lint(proj.load(), layers=["style"])
    assert hits(first) == {("sqlfluff/CP01", "migrations/0001_create_deals.sql", 4)}
    assert calls == [["0001_create_deals.rollback.sql", "0001_create_deals.sql"]]
    again = lint(proj.load(), layers=["style"])  # nothing changed: sqlfluff is not run
    assert again.findings == first.findings and len(calls) == 1
    (proj.path / "migrations" / "0001_create_deals.sql").write_text(HEADER + "CREATE TABLE public.deals (id bigint);\n")
    fixed = lint(proj.load(), layers=["style"])  # the edited file only
    assert fixed.clean and calls[-1] == ["0001_create_deals.sql"]
    config = proj.path / ".sqlfluff"
    config.write_text(config.read_text().replace("capitalisation_policy = upper", "capitalisation_policy = lower", 1))
    from sqlfluff.core.config import file, loader
    loader.load_config_at_path.cache_clear()  # sqlfluff keeps the config files it read in this process;
    file.load_config_file_as_dict.cache_clear()  # each `dbtool lint` is a new one
    lower = lint(proj.load(), layers=["style"])  # another config: both files again
    assert calls[-1] == ["0001_create_deals.rollback.sql", "0001_create_deals.sql"]
    assert ("sqlfluff/CP01", "migrations/0001_create_deals.sql", 4) in hits(lower)
    monkeypatch.setenv("DBTOOL_LINT_CACHE", "off")
    assert lint(proj.load(), layers=["style"]).findings == lower.findings and len(calls) == 4
    assert (proj.path / ".dbtool" / "cache" / ".gitignore").read_text().splitlines()[-1] == "*"


# ----- style (sqlfluff), large files -------------------------------------------------------------

def test_file_over_20_kb_with_an_error_near_its_end_is_not_skipped(proj):
    lines = [f"INSERT INTO public.big (id, label) VALUES ({i}, 'row number {i}');" for i in range(420)]
    text = HEADER + "\n".join(lines) + "\nSELEC 1;\nSELECT 2;\n"
    assert len(text.encode()) > 20 * 1024
    proj.pair("0001_fill_big", text, HEADER + "DELETE FROM public.big;\n")
    bad_line = HEADER.count("\n") + len(lines) + 1
    rep = lint(proj.load(), layers=["style", "rules"])
    assert ("sqlfluff/PRS", "migrations/0001_fill_big.sql", bad_line) in hits(rep)
    assert ("syntax-error", "migrations/0001_fill_big.sql", bad_line) in hits(rep)


def test_style_follows_the_committed_sqlfluff_config(proj):
    pair(proj, "0001_create_deals", "create table public.deals (id bigint);\n")
    rep = lint(proj.load(), layers=["style"])
    assert ("sqlfluff/CP01", "migrations/0001_create_deals.sql", 4) in hits(rep)


# ----- suppressions and configuration ------------------------------------------------------------

def test_suppression_with_a_reason_silences_the_finding(proj):
    suppressed_index(proj, "-- dbtool-lint: ignore squawk/require-concurrent-index-creation because deals is empty")
    rep = lint(proj.load(), layers=["safety", "rules"])
    assert rep.clean and rep.suppressed == 1


def test_suppression_at_the_end_of_a_statement_line_covers_that_statement(proj):
    base_tables(proj)
    pair(proj, "0002_add_deal_stage_index", "CREATE INDEX deals_stage_idx\n    ON public.deals (stage);  "
         "-- dbtool-lint: ignore squawk/* because deals is empty\n", "DROP INDEX public.deals_stage_idx;\n")
    rep = lint(proj.load(), layers=["safety", "rules"])
    assert rep.clean and rep.suppressed == 1


def test_rules_disabled_in_pyproject_are_not_reported(proj):
    proj.write("migrations/0001_create_deals.sql", HEADER + "CREATE TABLE public.deals (id bigint);\n")
    pyproject = proj.path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('disable = [', 'disable = [\n    "migration-rollback",'))
    rep = lint(proj.load(), layers=["rules"])
    assert rep.clean


def test_bad_lint_configuration_is_a_usage_error(proj):
    (proj.path / "pyproject.toml").write_text('[tool.dbtool]\n[tool.dbtool.lint]\ndisabel = ["x"]\n')
    with pytest.raises(UsageError, match="disabel"):
        lint(proj.load())


def rule_module(rule_id: str) -> str:
    return rule_id.replace("-", "_")


@pytest.mark.parametrize("rule_id", sorted(rules.RULES))
def test_every_dbtool_rule_has_its_module_its_test_file_and_its_doc_page(rule_id):
    """A rule is added with all three (docs/lint.md, "Adding a rule"); CI fails on one without them."""
    module = next(m for m in rules.MODULES if m.RULE.id == rule_id)
    assert module.__name__ == f"dbtool.lint.rules.{rule_module(rule_id)}", f"{rule_id} is declared in {module.__name__}"
    assert (ROOT / "tests" / "lint_rules" / f"test_{rule_module(rule_id)}.py").is_file(), f"{rule_id} has no tests"
    page = ROOT / "docs" / "rules" / f"{rule_id}.md"
    assert page.is_file(), f"missing {page}"
    assert page.read_text().startswith(f"# {rule_id}")
    assert f"[{rule_id}](rules/{rule_id}.md)" in (ROOT / "docs" / "lint.md").read_text(), "not in docs/lint.md's table"


def test_every_module_and_test_file_of_the_rules_is_a_registered_rule():
    """A rule module that check() does not run, or tests of a rule that is gone, are mistakes."""
    registered = {rule_module(r) for r in rules.RULES}
    modules = {p.stem for p in (ROOT / "dbtool" / "lint" / "rules").glob("*.py") if not p.stem.startswith("_")}
    tests = {p.stem.removeprefix("test_") for p in (ROOT / "tests" / "lint_rules").glob("test_*.py")}
    assert modules == registered and tests == registered
    assert len(rules.MODULES) == len(set(rules.MODULES)) == len(rules.RULES)


# ----- CLI: text, --json, exit codes, --changed --------------------------------------------------

def cli(*args, cwd=None, env=None):
    """`dbtool lint ARGS` as a process; `env` is added to an environment without any database URL."""
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith(("PG", "DBTOOL_LINT_"))}
    return subprocess.run([DBTOOL, "lint", *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**base, **(env or {})})


def test_cli_prints_one_finding_per_line_then_a_summary_and_exits_1(proj):
    proj.write("migrations/0001_create_deals.sql", HEADER + "CREATE TABLE public.deals (id bigint);\n")
    res = cli("--project", str(proj.path), "--layer", "rules")
    assert res.returncode == 1, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == ("migrations/0001_create_deals.sql:1:1: error migration-rollback "
                        "no rollback file 0001_create_deals.rollback.sql")
    assert lines[-1].startswith("1 file(s) linted: 1 error(s), 0 warning(s)")


def test_cli_json_for_ci(proj):
    proj.write("migrations/0001_create_deals.sql", HEADER + "CREATE TABLE public.deals (id bigint);\n")
    res = cli("--project", str(proj.path), "--layer", "rules", "--json")
    assert res.returncode == 1
    data = json.loads(res.stdout)
    assert data["clean"] is False
    assert data["findings"][0] | {"hint": None} == {
        "path": "migrations/0001_create_deals.sql", "line": 1, "col": 1, "severity": "error",
        "rule": "migration-rollback", "message": "no rollback file 0001_create_deals.rollback.sql",
        "hint": None, "layer": "rules"}
    assert data["layers"]["rules"] == "ran"


def test_cli_exits_0_when_clean(proj):
    pair(proj, "0001_create_deals", "CREATE TABLE public.deals (id bigint);\n", "DROP TABLE public.deals;\n")
    res = cli("--project", str(proj.path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 error(s), 0 warning(s)" in res.stdout


@pytest.mark.parametrize("args, message", [
    (["--layer", "spelling"], "unknown layer"),
    (["--base", "HEAD"], "--base only makes sense with --changed"),
    (["--changed", "migrations"], "either files or --changed"),
    (["no/such/file.sql"], "no such file"),
])
def test_cli_usage_errors_exit_2(proj, args, message):
    res = cli("--project", str(proj.path), *args)
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_changed_lints_only_files_changed_against_the_base(proj):
    base_tables(proj)
    git(proj.path, "init", "-q", "-b", "main")
    git(proj.path, "add", ".")
    git(proj.path, "commit", "-q", "-m", "base")
    pair(proj, "0002_add_deal_stage_index", "CREATE INDEX deals_stage_idx ON public.deals (stage);\n",
         "DROP INDEX public.deals_stage_idx;\n")
    (proj.path / "migrations/0001_create_deals.rollback.sql").write_text("DROP TABLE public.deals;\n")  # no header now
    res = cli("--changed", "--layer", "safety", "--layer", "rules", "--json", cwd=proj.path)
    data = json.loads(res.stdout)
    assert res.returncode == 1
    assert set(data["files"]) == {"migrations/0001_create_deals.sql", "migrations/0001_create_deals.rollback.sql",
                                  "migrations/0002_add_deal_stage_index.sql",
                                  "migrations/0002_add_deal_stage_index.rollback.sql"}
    assert {(f["rule"], f["path"]) for f in data["findings"]} == {
        ("migration-header", "migrations/0001_create_deals.rollback.sql"),
        ("squawk/require-concurrent-index-creation", "migrations/0002_add_deal_stage_index.sql")}
    git(proj.path, "checkout", "-q", "-b", "feature")
    git(proj.path, "add", ".")
    git(proj.path, "commit", "-q", "-m", "feature")
    res = cli("--changed", "--base", "main", "--layer", "rules", "--json", cwd=proj.path)
    assert {f["path"] for f in json.loads(res.stdout)["findings"]} == {"migrations/0001_create_deals.rollback.sql"}
    res = cli("--changed", "--layer", "rules", cwd=proj.path)  # nothing changed against HEAD now
    assert res.returncode == 0 and res.stdout.startswith("0 file(s) linted")


def test_changed_outside_git_is_a_usage_error(proj):
    res = cli("--changed", cwd=proj.path)
    assert res.returncode == 2 and "git" in res.stderr


# ----- the repository itself ---------------------------------------------------------------------

def test_repository_sql_lints_clean_including_function_bodies(project, migrated_db):
    """make test fails while the repository's own migrations/ and sql/ have findings."""
    rep = lint(project, database_url=migrated_db)
    assert rep.layers == {"style": "ran", "safety": "ran", "bodies": "ran", "rules": "ran"}
    assert rep.clean, "\n" + "\n".join(f.text() for f in rep.findings)


def test_suppression_inside_a_function_body_covers_that_function(proj, server):
    pair(proj, "0001_create_things", FUNCTIONS.replace(
        "    BEGIN\n        RETURN (SELECT t.nickname",
        "    BEGIN\n        -- dbtool-lint: ignore plpgsql/undefined-column because nickname arrives in 0002\n"
        "        RETURN (SELECT t.nickname"), "DROP TABLE public.things;\nDROP SCHEMA app CASCADE;\n")
    rep = lint(proj.load(), server_url=server.url(), layers=["bodies", "rules"])
    assert {f.line for f in rep.findings if f.rule == "plpgsql/undefined-column"} == {25}
    assert rep.suppressed == 1


def test_dev_without_a_running_dev_cluster_skips_bodies_with_a_note(proj):
    pair(proj, "0001_create_things", FUNCTIONS, "DROP TABLE public.things;\nDROP SCHEMA app CASCADE;\n")
    rep = lint(proj.load(), dev=True, layers=["bodies"])
    assert rep.clean and rep.layers["bodies"].startswith("skipped: --dev:")


def test_pre_commit_hooks_call_existing_options_on_sql_files():
    import yaml
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["dbtool-lint"]["entry"] == "dbtool lint" and hooks["dbtool-lint"]["pass_filenames"] is True
    assert hooks["dbtool-lint"]["files"] == r"\.sql$"
    assert hooks["dbtool-lint-changed"]["entry"] == "dbtool lint --changed"
    assert hooks["dbtool-lint-changed"]["pass_filenames"] is False


def test_given_files_limit_the_report_but_rules_still_read_the_whole_project(proj):
    base_tables(proj)
    pair(proj, "0002_replace_deals", "CREATE TABLE public.deals (id bigint PRIMARY KEY);\n")
    pair(proj, "0003_create_notes", "CREATE TABLE notes (id bigint);\n")
    only = str(proj.path / "migrations" / "0002_replace_deals.sql")
    rep = lint(proj.load(), paths=[only], layers=["rules"])
    assert hits(rep) == {("migration-recreates", "migrations/0002_replace_deals.sql", 4)}
    assert rep.files == ["migrations/0002_replace_deals.rollback.sql", "migrations/0002_replace_deals.sql"]


def test_index_on_a_materialized_view_created_in_the_same_migration_is_safe(proj):
    base_tables(proj)
    pair(proj, "0002_create_deal_counts", """
        CREATE MATERIALIZED VIEW public.deal_counts AS SELECT d.stage, count(*) AS n FROM public.deals AS d
        GROUP BY d.stage;
        CREATE UNIQUE INDEX deal_counts_stage_key ON public.deal_counts (stage);
        """, "DROP MATERIALIZED VIEW public.deal_counts;\n")
    rep = lint(proj.load(), layers=["safety"])
    assert rep.clean, [f.text() for f in rep.findings]


@pytest.mark.parametrize("header, migrate_reads", [
    ("-- transactional: false\n", False),
    ("-- Why: test.\n-- transactional: FALSE\n", False),
    ("/* c */\n-- transactional: false\n", True),  # yoyo stops at the first non-comment line
    ("-- transactional: true\n", True),
])
def test_lint_reads_the_transactional_directive_as_migrate_does(tmp_path, header, migrate_reads):
    from dbtool import migrations
    from dbtool.lint.files import Workspace
    from dbtool.lint.sources import FORWARD, SqlFile

    path = tmp_path / "0001_create_a.sql"
    path.write_text(header + "CREATE TABLE public.a (id int);\n")
    found = migrations.directives(path.read_text()).get("transactional", "true")
    assert migrations.transactional_flag(found) is migrate_reads
    assert Workspace.transactional(SqlFile.read(path, tmp_path, FORWARD)) is migrate_reads
