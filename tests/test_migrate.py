"""`dbtool migrate`, `status`, `rollback`, `new`, `repair` on scratch projects: the engine's guarantees."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from dbtool import ledger
from dbtool.commands.migrate import migrate
from dbtool.commands.new import new
from dbtool.commands.repair import repair
from dbtool.commands.rollback import rollback
from dbtool.commands.status import status
from dbtool.errors import DbtoolError, UsageError

HEADER = "-- Why: a test migration.\n"


def tables(conn) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}


def recorded(conn) -> list[str]:
    if not conn.execute("SELECT to_regclass('dbtool.migrations')").fetchone()[0]:
        return []
    return [r[0] for r in conn.execute("SELECT id FROM dbtool.migrations ORDER BY id")]


@pytest.fixture
def three(tmp_project):
    tmp_project.pair("0001_create_a", HEADER + "CREATE TABLE public.a (id int PRIMARY KEY);\n",
                     "DROP TABLE public.a;\n")
    tmp_project.pair("0002_create_b", HEADER + "CREATE TABLE public.b (id int PRIMARY KEY);\n"
                     "INSERT INTO public.b VALUES (1), (2);\n", "DROP TABLE public.b;\n")
    tmp_project.pair("0003_create_c", HEADER + "CREATE TABLE public.c (id int);\n", "DROP TABLE public.c;\n")
    return tmp_project


def test_migrate_applies_every_pending_migration_in_order_and_records_each(three, empty_db, conn_to):
    res = migrate(empty_db, three.load())
    assert [m["id"] for m in res.applied] == ["0001_create_a", "0002_create_b", "0003_create_c"]
    c = conn_to(empty_db)
    assert tables(c) == {"a", "b", "c"}
    assert recorded(c) == ["0001_create_a", "0002_create_b", "0003_create_c"]
    assert migrate(empty_db, three.load()).applied == []


def test_migrate_to_stops_after_the_named_migration(three, empty_db, conn_to):
    migrate(empty_db, three.load(), to="0002")
    assert tables(conn_to(empty_db)) == {"a", "b"}


def test_dry_run_lists_pending_and_changes_nothing(three, empty_db, conn_to):
    res = migrate(empty_db, three.load(), dry_run=True)
    assert [m["id"] for m in res.applied] == ["0001_create_a", "0002_create_b", "0003_create_c"]
    c = conn_to(empty_db)
    assert tables(c) == set()
    assert c.execute("SELECT to_regnamespace('dbtool')").fetchone()[0] is None


def test_failing_migration_leaves_nothing_of_itself_and_is_not_recorded(three, empty_db, conn_to):
    three.pair("0004_break", HEADER + "CREATE TABLE public.d (id int);\nINSERT INTO public.d VALUES (1);\n"
               "SELECT 1/0;\n", "DROP TABLE public.d;\n")
    with pytest.raises(DbtoolError) as e:
        migrate(empty_db, three.load())
    assert e.value.message.startswith("migrations/0004_break.sql:4:1: 22012 division by zero")
    c = conn_to(empty_db)
    assert "d" not in tables(c)
    assert recorded(c) == ["0001_create_a", "0002_create_b", "0003_create_c"]


def test_syntax_error_points_at_file_line_and_column(tmp_project, empty_db, conn_to):
    body = HEADER + "".join(f"-- filler line {i}\n" for i in range(2, 11))
    body += "CREATE TABLE public.ok (id int);\n"     # line 11
    body += "CREATE TABLE public.bad (id int,, x int);\n"  # line 12, col 34 is the second comma
    tmp_project.pair("0001_create_bad", body, "DROP TABLE public.bad;\nDROP TABLE public.ok;\n")
    with pytest.raises(DbtoolError) as e:
        migrate(empty_db, tmp_project.load())
    assert e.value.message == 'migrations/0001_create_bad.sql:12:33: 42601 syntax error at or near ","'
    assert e.value.exit_code == 3
    assert tables(conn_to(empty_db)) == set()


def test_error_without_position_points_at_the_statement(tmp_project, empty_db):
    tmp_project.pair("0001_create_twice", HEADER + "CREATE TABLE public.x (id int);\n\n  CREATE TABLE public.x (id int);\n",
                     "DROP TABLE public.x;\n")
    with pytest.raises(DbtoolError, match=r"^migrations/0001_create_twice.sql:4:3: 42P07 relation \"x\" already exists"):
        migrate(empty_db, tmp_project.load())


def test_edited_applied_file_makes_migrate_refuse_and_names_the_file(three, empty_db, conn_to):
    migrate(empty_db, three.load(), to="0002")
    three.write("migrations/0001_create_a.sql", HEADER + "CREATE TABLE public.a (id bigint PRIMARY KEY);\n")
    with pytest.raises(DbtoolError) as e:
        migrate(empty_db, three.load())
    assert "migrations/0001_create_a.sql was edited after it was applied" in e.value.message
    assert "dbtool repair --accept 0001_create_a" in e.value.hint
    assert tables(conn_to(empty_db)) == {"a", "b"}
    assert [x.state for x in status(empty_db, three.load()).migrations] == ["changed", "applied", "pending"]


def test_repair_accept_records_the_new_checksum_and_logs_it(three, empty_db, conn_to):
    migrate(empty_db, three.load())
    three.write("migrations/0001_create_a.sql", HEADER + "-- a harmless comment\nCREATE TABLE public.a (id int PRIMARY KEY);\n")
    repair(empty_db, three.load(), accept=["0001_create_a"], reason="comment only")
    assert migrate(empty_db, three.load()).applied == []
    log = conn_to(empty_db).execute("SELECT operation, subject, note FROM dbtool.log WHERE operation LIKE 'repair%'").fetchall()
    assert log == [("repair-accept", "0001_create_a", "comment only")]


def test_deleted_applied_file_makes_migrate_refuse_until_forgotten(three, empty_db):
    migrate(empty_db, three.load())
    (three.path / "migrations/0003_create_c.sql").unlink()
    (three.path / "migrations/0003_create_c.rollback.sql").unlink()
    with pytest.raises(DbtoolError, match="0003_create_c.sql was applied on .* but the file is gone"):
        migrate(empty_db, three.load())
    assert [x.state for x in status(empty_db, three.load()).migrations][-1] == "missing"
    repair(empty_db, three.load(), forget=["0003_create_c"])
    assert migrate(empty_db, three.load()).applied == []


@pytest.mark.parametrize("case, files, message", [
    ("duplicate id", {"0002_other.sql": "CREATE TABLE public.z (id int);", "0002_other.rollback.sql": "DROP TABLE public.z;"},
     "migrations/0002_other.sql: duplicate migration number 0002"),
    ("missing dependency", {"0004_dep.sql": "-- depends: 0009_nowhere\nCREATE TABLE public.z (id int);",
                            "0004_dep.rollback.sql": "DROP TABLE public.z;"},
     "migrations/0004_dep.sql: depends on '0009_nowhere'"),
    ("empty file", {"0004_empty.sql": "-- nothing here\n", "0004_empty.rollback.sql": "SELECT 1;"},
     "migrations/0004_empty.sql: the migration has no SQL statements"),
    ("missing rollback", {"0004_norollback.sql": "CREATE TABLE public.z (id int);"},
     "migrations/0004_norollback.sql: no rollback file 0004_norollback.rollback.sql"),
    ("empty rollback", {"0004_emptyrb.sql": "CREATE TABLE public.z (id int);", "0004_emptyrb.rollback.sql": "\n"},
     "migrations/0004_emptyrb.rollback.sql: the rollback file has no SQL statements"),
    ("unnumbered", {"create_z.sql": "CREATE TABLE public.z (id int);", "create_z.rollback.sql": "DROP TABLE public.z;"},
     "migrations/create_z.sql: migration file names must start with a number"),
])
def test_unsound_migration_folder_is_refused_before_anything_runs(three, empty_db, conn_to, case, files, message):
    for name, text in files.items():
        three.write(f"migrations/{name}", text + "\n")
    with pytest.raises(DbtoolError) as e:
        migrate(empty_db, three.load())
    assert e.value.message.startswith(message), e.value.message
    assert e.value.hint
    c = conn_to(empty_db)
    assert tables(c) == set() and recorded(c) == []


def test_status_reports_applied_pending_with_time_and_user(three, empty_db):
    migrate(empty_db, three.load(), to="0001")
    rep = status(empty_db, three.load())
    assert [(e.id, e.state) for e in rep.migrations] == [
        ("0001_create_a", "applied"), ("0002_create_b", "pending"), ("0003_create_c", "pending")]
    assert rep.migrations[0].applied_by == "postgres" and rep.migrations[0].applied_at
    assert len(rep.attention) == 2


def test_rollback_undoes_newest_first_by_steps_to_and_all(three, empty_db, conn_to):
    migrate(empty_db, three.load())
    c = conn_to(empty_db)
    assert [r["id"] for r in rollback(empty_db, three.load()).rolled_back] == ["0003_create_c"]
    assert tables(c) == {"a", "b"}
    migrate(empty_db, three.load())
    assert [r["id"] for r in rollback(empty_db, three.load(), to="0001").rolled_back] == ["0003_create_c", "0002_create_b"]
    assert tables(c) == {"a"}
    rollback(empty_db, three.load(), all_=True)
    assert tables(c) == set() and recorded(c) == []
    assert [r[0] for r in c.execute("SELECT operation FROM dbtool.log ORDER BY id")].count("rollback") == 4


def test_rollback_asks_under_the_lock_and_a_refusal_undoes_nothing(three, empty_db, conn_to):
    migrate(empty_db, three.load())
    other = conn_to(empty_db)
    asked = []

    def refuse(ids, database):
        held = not other.execute("SELECT pg_try_advisory_lock(%s)", [ledger.LOCK_KEY]).fetchone()[0]
        asked.append((ids, database, held))
        raise UsageError("refused")

    with pytest.raises(UsageError, match="refused"):
        rollback(empty_db, three.load(), steps=2, confirm=refuse)
    assert asked == [(["0003_create_c", "0002_create_b"], empty_db.rsplit("/", 1)[1], True)]
    assert tables(other) == {"a", "b", "c"} and len(recorded(other)) == 3


def test_failing_rollback_changes_nothing(three, empty_db, conn_to):
    three.write("migrations/0003_create_c.rollback.sql", "DROP TABLE public.c;\nDROP TABLE public.nope;\n")
    migrate(empty_db, three.load())
    with pytest.raises(DbtoolError, match=r"migrations/0003_create_c.rollback.sql:2:1: 42P01"):
        rollback(empty_db, three.load())
    c = conn_to(empty_db)
    assert tables(c) == {"a", "b", "c"} and "0003_create_c" in recorded(c)


def test_rollback_options_are_exclusive_and_checked(three, empty_db):
    migrate(empty_db, three.load())
    with pytest.raises(UsageError, match="only one of"):
        rollback(empty_db, three.load(), steps=1, all_=True)
    with pytest.raises(UsageError, match="--to 0042: no such applied migration"):
        rollback(empty_db, three.load(), to="0042")


def test_lock_timeout_makes_a_blocked_migration_fail_fast(three, empty_db, conn_to):
    from dbtool.engine import Settings
    migrate(empty_db, three.load())
    three.pair("0004_alter_a", HEADER + "ALTER TABLE public.a ADD COLUMN note text;\n",
               "ALTER TABLE public.a DROP COLUMN note;\n")
    blocker = psycopg.connect(empty_db)  # an open transaction holding a lock on a
    blocker.execute("SELECT * FROM public.a")
    try:
        with pytest.raises(DbtoolError) as e:
            migrate(empty_db, three.load(), settings=Settings(lock_timeout="300ms", lock_retries=0))
        assert "55P03" in e.value.message and "lock timeout" in e.value.message
        assert "--lock-timeout" in e.value.hint
    finally:
        blocker.close()
    assert "0004_alter_a" not in recorded(conn_to(empty_db))


def test_new_creates_the_next_numbered_pair_with_a_header(three):
    fwd, rb = new(three.load(), "add_deal_region")
    assert fwd.name == "0004_add_deal_region.sql" and rb.name == "0004_add_deal_region.rollback.sql"
    assert fwd.read_text().startswith("-- Add deal region")
    with pytest.raises(UsageError, match="not verb_object"):
        new(three.load(), "Bad Name!")


def test_a_held_migration_lock_makes_migrate_give_up_after_lock_wait_naming_the_holder(three, empty_db, conn_to):
    from dbtool.engine import Settings
    from dbtool.ledger import LOCK_KEY
    holder = conn_to(empty_db)
    holder.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
    pid = holder.info.backend_pid
    with pytest.raises(DbtoolError) as e:
        migrate(empty_db, three.load(), settings=Settings(lock_wait="300ms"))
    assert e.value.message.startswith(f"another dbtool run holds the migration lock on this database (pid {pid},")
    assert "--lock-wait" in e.value.hint
    assert tables(conn_to(empty_db)) == set()
    holder.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    assert len(migrate(empty_db, three.load()).applied) == 3


def test_a_file_that_is_not_utf8_is_a_clear_error(three, empty_db):
    (three.path / "migrations/0004_latin1.sql").write_bytes(b"-- Why: test.\nSELECT 'caf\xe9';\n")
    three.write("migrations/0004_latin1.rollback.sql", "SELECT 1;\n")
    with pytest.raises(DbtoolError, match=r"^migrations/0004_latin1.sql:2: not UTF-8 text"):
        migrate(empty_db, three.load())


def test_a_repeatable_file_that_is_not_utf8_is_the_same_clear_error(three, empty_db):
    folder = three.path / "sql/functions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "public.latin1.sql").write_bytes(b"-- Why: test.\n\nSELECT 'caf\xe9';\n")
    with pytest.raises(DbtoolError, match=r"^sql/functions/public.latin1.sql:3: not UTF-8 text"):
        migrate(empty_db, three.load())


def test_non_transactional_migration_needs_one_rollback_statement_per_statement(three, empty_db):
    three.pair("0004_index_a", "-- Why: test.\n-- transactional: false\n"
               "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_x ON public.a (id);\n"
               "CREATE INDEX CONCURRENTLY IF NOT EXISTS a_y ON public.a (id);\n",
               "DROP INDEX CONCURRENTLY IF EXISTS public.a_y;\n")
    with pytest.raises(DbtoolError, match="needs one rollback statement per statement"):
        migrate(empty_db, three.load())


def test_failed_concurrent_index_build_leaves_no_invalid_index_and_undoes_earlier_steps(three, empty_db, conn_to):
    migrate(empty_db, three.load())
    c = conn_to(empty_db)
    c.execute("INSERT INTO public.c VALUES (1), (1)")  # duplicates: a unique index on c fails
    three.pair("0004_index_tables", "-- Why: test.\n-- transactional: false\n"
               "CREATE INDEX CONCURRENTLY IF NOT EXISTS b_id_idx ON public.b (id);\n"
               "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS c_id_key ON public.c (id);\n",
               "DROP INDEX CONCURRENTLY IF EXISTS public.c_id_key;\n"
               "DROP INDEX CONCURRENTLY IF EXISTS public.b_id_idx;\n")
    with pytest.raises(DbtoolError) as e:
        migrate(empty_db, three.load())
    assert e.value.message.startswith("migrations/0004_index_tables.sql:4:1: 23505")
    assert "dropped INVALID index c_id_key" in e.value.detail
    assert "undid statement 1 with 0004_index_tables.rollback.sql:2" in e.value.detail
    names = {r[0] for r in c.execute("SELECT indexrelid::regclass::text FROM pg_index "
                                     "WHERE indrelid IN ('public.b'::regclass, 'public.c'::regclass)")}
    assert names == {"b_pkey"}
    assert "0004_index_tables" not in recorded(c)


def test_a_bad_duration_is_a_usage_error_before_connecting(three):
    from dbtool.engine import Settings
    with pytest.raises(UsageError, match="lock-timeout 'bogus' is not a duration"):
        Settings.from_project(three.load(), lock_timeout="bogus")


def test_the_bookkeeping_is_handed_to_the_owner_role_so_another_member_can_migrate_later(
        tmp_project, empty_db, conn_to, project):
    tmp_project.copy_real_migrations()
    (tmp_project.path / "pyproject.toml").write_text('[tool.dbtool]\nowner_role = "maplatform_owner"\n')
    migrate(empty_db, tmp_project.load(), to="0002", sync_cron=False)
    c = conn_to(empty_db)
    owners = c.execute("""SELECT DISTINCT relowner::regrole::text FROM pg_class
                          WHERE relnamespace = 'dbtool'::regnamespace AND relkind = 'r'""").fetchall()
    assert owners == [("maplatform_owner",)]
    assert c.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'dbtool'").fetchone()[0] \
        == "maplatform_owner"
    # A DBA who is only a member of the owner role takes it from there, except the one migration that
    # changes extension-owned routines, which stops with the statement a superuser must run.
    c.execute("DO $$BEGIN CREATE ROLE dbtool_member LOGIN IN ROLE maplatform_owner; "
              "EXCEPTION WHEN duplicate_object THEN NULL; END$$")
    member_url = empty_db.replace("postgresql://postgres@", "postgresql://dbtool_member@")
    with pytest.raises(DbtoolError, match=r"0016_restrict_extension_internals.sql:\d+:\d+: P0001 PUBLIC can still "
                                          r"use ") as refused:
        migrate(member_url, tmp_project.load(), sync_cron=False)
    assert "run this migration as a superuser" in refused.value.hint
    migrate(empty_db, tmp_project.load(), to="0016", sync_cron=False)
    with pytest.raises(DbtoolError, match=r"0022_enable_audit_logging.sql:\d+:\d+: P0001 the audit log setting "
                                          r"\(pgaudit.log\) is a superuser's to make") as refused:
        migrate(member_url, tmp_project.load(), sync_cron=False)  # and so is the database's audit setting
    assert "run this migration as a superuser" in refused.value.hint
    by = dict(c.execute("SELECT id, applied_by FROM dbtool.migrations WHERE id >= '0017'").fetchall())
    assert by and set(by.values()) == {"dbtool_member"} and max(by)[:4] == "0021"
    migrate(empty_db, tmp_project.load(), sync_cron=False)
    assert c.execute("SELECT applied_by FROM dbtool.migrations WHERE id >= '0003' GROUP BY 1 ORDER BY 1").fetchall() \
        == [("dbtool_member",), ("postgres",)]


def test_a_string_ending_in_a_backslash_does_not_swallow_the_next_statement(tmp_project, empty_db, conn_to):
    """sqlparse, yoyo's splitter, merges the two statements here; PostgreSQL's lexer does not."""
    tmp_project.pair("0001_create_paths", "-- Why: test.\nCREATE TABLE public.paths (p text);\n"
                     "INSERT INTO public.paths VALUES ('C:\\\\');\nINSERT INTO public.paths VALUES ('D:');\n",
                     "DROP TABLE public.paths;\n")
    migrate(empty_db, tmp_project.load())
    assert conn_to(empty_db).execute("SELECT p FROM public.paths ORDER BY p").fetchall() == [("C:\\\\",), ("D:",)]


def test_an_unterminated_quote_is_a_clear_error_naming_its_line(tmp_project, empty_db):
    tmp_project.pair("0001_create_q", "-- Why: test.\nCREATE TABLE public.q (id int);\nSELECT 'oops;\n",
                     "DROP TABLE public.q;\n")
    with pytest.raises(DbtoolError, match=r"^migrations/0001_create_q.sql:3: unterminated quoted string"):
        migrate(empty_db, tmp_project.load())


# ----- migrate --dry-run, repair by number, new ----------------------------------------------------

def test_dry_run_shows_the_sql_of_each_pending_migration_inside_the_lock_transaction_and_timeouts_it_would_use(
        three, empty_db, conn_to):
    import json

    from cli_support import run
    migrate(empty_db, three.load(), to="0001")
    three.pair("0004_index_b", "-- Why: test.\n-- transactional: false\n"
               "CREATE INDEX CONCURRENTLY IF NOT EXISTS b_i ON public.b (id);\n",
               "DROP INDEX CONCURRENTLY IF EXISTS public.b_i;\n")
    three.write("sql/views/public.v.sql", "-- Why: test.\nCREATE OR REPLACE VIEW public.v AS SELECT 1 AS x;\n")
    proj = str(three.path)
    res = run("migrate", "-d", empty_db, "--project", proj, "--dry-run", "--lock-timeout", "2s")
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert "SELECT pg_try_advisory_lock(" in text and "retried for up to 60s" in text
    assert ("-- 0002_create_b (migrations/0002_create_b.sql, 2 statement(s)): one transaction, with its record\n"
            "BEGIN;\nSET LOCAL lock_timeout = '2s';\nSET LOCAL statement_timeout = '30min';\n"
            "-- migrations/0002_create_b.sql:2\nCREATE TABLE public.b (id int PRIMARY KEY);\n"
            "-- migrations/0002_create_b.sql:3\nINSERT INTO public.b VALUES (1), (2);\n") in text
    assert "SET lock_timeout = '0';\nSET statement_timeout = '30min';\n-- migrations/0004_index_b.sql:3\n" \
           "CREATE INDEX CONCURRENTLY IF NOT EXISTS b_i ON public.b (id);\n" in text
    assert "--   re-apply sql/views/public.v.sql (new)" in text
    assert "0001_create_a" not in text  # applied already
    assert text.splitlines()[-1] == f"-- {empty_db.rsplit('/', 1)[1]}: would apply 3 migration(s), would re-apply " \
                                    "1 repeatable object(s)"
    plan = json.loads(run("migrate", "-d", empty_db, "--project", proj, "--dry-run", "--json").stdout)
    assert plan["session"]["advisory_lock"]["wait"] == "60s" and plan["session"]["lock_timeout"] == "1s"
    assert (plan["session"]["lock_retries"], plan["session"]["lock_retry_delay"]) == (10, "1s")
    assert "-- A migration that times out on a lock (55P03) or loses a deadlock (40P01) is rolled back and run " \
           "again, up to 10 more time(s),\n" in text
    b = plan["applied"][0]
    assert (b["id"], b["statements"], b["transactional"]) == ("0002_create_b", 2, True)
    assert b["sql"][0] == {"line": 2, "sql": "CREATE TABLE public.b (id int PRIMARY KEY)", "lock_timeout": "1s",
                           "statement_timeout": "30min"}
    assert plan["applied"][2]["sql"][0]["lock_timeout"] == "0"  # CONCURRENTLY: concurrent_lock_timeout
    assert plan["repeatables"] == ["sql/views/public.v.sql"]
    quiet = run("migrate", "-d", empty_db, "--project", proj, "--dry-run", "-q")
    assert len(quiet.stdout.splitlines()) == 1
    c = conn_to(empty_db)
    assert tables(c) == {"a"} and recorded(c) == ["0001_create_a"]


def test_repair_takes_a_migration_number_as_migrate_to_does(three, empty_db, conn_to):
    from cli_support import run
    migrate(empty_db, three.load())
    three.write("migrations/0001_create_a.sql", HEADER + "-- a comment\nCREATE TABLE public.a (id int PRIMARY KEY);\n")
    (three.path / "migrations/0003_create_c.sql").unlink()
    (three.path / "migrations/0003_create_c.rollback.sql").unlink()
    assert repair(empty_db, three.load(), accept=["0001"], forget=["0003"]) == [
        "accepted the edited 0001_create_a", "forgot 0003_create_c"]
    assert migrate(empty_db, three.load()).applied == []
    res = run("repair", "-d", empty_db, "--project", str(three.path), "--accept", "0042")
    assert res.exit_code == 2 and res.stderr.startswith("error: --accept 0042: not an applied migration")
    conn_to(empty_db).execute("INSERT INTO dbtool.migrations (id, checksum) VALUES ('0002_other', 'x')")
    with pytest.raises(UsageError, match=r"^--forget 0002: ambiguous, 2 applied migrations have that number "
                                         r"\(0002_create_b, 0002_other\)"):
        repair(empty_db, three.load(), forget=["0002"])


def test_new_with_why_writes_a_pair_that_passes_lint_as_written(tmp_path):
    import shutil

    from cli_support import run
    from lint_support import ROOT  # not conftest's: tests/lint_rules has a conftest module too
    shutil.copytree(ROOT / "migrations", tmp_path / "migrations")
    for f in ("pyproject.toml", ".sqlfluff"):
        shutil.copy(ROOT / f, tmp_path / f)
    res = run("new", "add_deal_region", "--why", "reporting groups deals by region, so each deal needs one; "
              "the column is added empty and filled by the application as deals are edited",
              "--project", str(tmp_path), "--json")
    assert res.exit_code == 0, res.output
    made = json.loads(res.stdout)
    assert made["fill_in"] is None
    fwd, rb = Path(made["migration"]), Path(made["rollback"])
    assert fwd.read_text().startswith("-- Add deal region\n--\n-- Why: reporting groups deals by region")
    assert fwd.read_text().endswith("SET LOCAL ROLE maplatform_owner;\n")
    lint = run("lint", str(fwd), str(rb), "--project", str(tmp_path), "--layer", "style", "--layer", "safety",
               "--layer", "rules")
    assert lint.exit_code == 0, lint.stdout
    assert "0 error(s), 0 warning(s)" in lint.stdout
    # Without --why: the output says what to fill in, and lint points at that line until it is.
    res = run("new", "add_deal_owner", "--project", str(tmp_path))
    assert res.exit_code == 0, res.output
    name = fwd.name.replace("add_deal_region", "add_deal_owner").replace(fwd.name[:4], f"{int(fwd.name[:4]) + 1:04d}")
    assert f"next: say why in migrations/{name}:3 (the `-- Why:` placeholder" in res.stdout
    lint = run("lint", str(tmp_path / "migrations" / name), "--project", str(tmp_path), "--layer", "rules")
    assert f"migrations/{name}:3:1: warning migration-header" in lint.stdout, lint.stdout


def test_new_refuses_a_name_another_migration_has(three):
    from cli_support import run
    with pytest.raises(UsageError, match=r"^a migration named create_b exists already: migrations/0002_create_b.sql"):
        new(three.load(), "create_b")
    res = run("new", "create-b", "--project", str(three.path))
    assert res.exit_code == 2 and "migrations/0002_create_b.sql" in res.stderr
    assert sorted(p.name for p in (three.path / "migrations").glob("0004*")) == []
