"""`dbtool verify`: up, down, up on a scratch database, for the real migrations and broken ones;
built in a throwaway local cluster unless a server is named with --server-url."""

from typer.testing import CliRunner

from dbtool.cli import app
from dbtool.commands.verify import verify
from scratch_support import databases_created_on

runner = CliRunner()
GOOD = ("0001_create_t", "-- Why: test.\nCREATE TABLE public.t (id int);\n", "DROP TABLE public.t;\n")


def test_real_migrations_survive_up_down_up(server, project):
    res = verify(server.url("postgres"), project, scratch_name="verify_real")
    assert res.ok, (res.failed, res.problem, res.differences[:5])
    forward = [p for p in project.migrations_dir.glob("*.sql") if not p.name.endswith(".rollback.sql")]
    assert len(res.checked) == len(forward)


def test_verify_names_the_migration_whose_rollback_forgets_an_index(server, tmp_project, conn_to):
    tmp_project.pair("0001_create_t", "-- Why: test.\nCREATE TABLE public.t (id int, code text);\n",
                     "DROP TABLE public.t;\n")
    tmp_project.pair("0002_index_t", "-- Why: test.\nCREATE INDEX t_code ON public.t (code);\n"
                     "ALTER TABLE public.t ADD COLUMN note text;\n",
                     "ALTER TABLE public.t DROP COLUMN note;\n")  # forgets DROP INDEX t_code
    tmp_project.pair("0003_create_u", "-- Why: test.\nCREATE TABLE public.u (id int);\n", "DROP TABLE public.u;\n")
    res = verify(server.url("postgres"), tmp_project.load(), scratch_name="verify_broken")
    assert not res.ok
    assert res.checked == ["0001_create_t"]
    assert res.failed == "0002_index_t"
    assert "rollback does not restore" in res.problem
    assert [(d["action"], d["kind"]) for d in res.differences] == [("added", "index")]
    assert "t_code" in res.differences[0]["name"]
    scratch_left = conn_to(server.url()).execute(
        "SELECT count(*) FROM pg_database WHERE datname = 'verify_broken'").fetchone()[0]
    assert scratch_left == 0


def test_verify_reports_a_rollback_that_fails(server, tmp_project):
    tmp_project.pair("0001_create_t", "-- Why: test.\nCREATE TABLE public.t (id int);\n",
                     "DROP TABLE public.not_t;\n")
    res = verify(server.url("postgres"), tmp_project.load(), scratch_name="verify_fails")
    assert res.failed == "0001_create_t"
    assert res.problem.startswith("roll back failed: migrations/0001_create_t.rollback.sql:1:1: 42P01")


def test_verify_cli_exit_codes(server, tmp_project):
    tmp_project.pair("0001_create_t", "-- Why: test.\nCREATE TABLE public.t (id int);\n", "SELECT 1;\n")
    res = runner.invoke(app, ["verify", "--server-url", server.url(), "--project", str(tmp_project.path), "-q"])
    assert res.exit_code == 1
    assert "0001_create_t: the rollback does not restore" in res.stdout
    assert "removed" not in res.stdout and "added    table" in res.stdout


def test_verify_builds_in_a_local_cluster_and_creates_no_database_on_the_server_of_database_url(server, tmp_project):
    tmp_project.pair(*GOOD)
    with databases_created_on(server.url()) as created:
        res = runner.invoke(app, ["verify", "--project", str(tmp_project.path), "-q"],
                            env={"DATABASE_URL": server.url("postgres")})
    assert res.exit_code == 0, res.output
    assert created == set()
    assert res.stdout.strip() == "ok: 1 migration(s) survive up, down, up (in a temporary local cluster)"


def test_verify_with_server_url_builds_on_that_server_and_drops_the_scratch_database(server, tmp_project):
    tmp_project.pair(*GOOD)
    with databases_created_on(server.url()) as created:
        res = runner.invoke(app, ["verify", "--server-url", server.url(), "--project", str(tmp_project.path), "--json"])
    assert res.exit_code == 0, res.output
    assert len(created) == 1 and next(iter(created)).startswith("dbtool_verify_")  # and gone again
    assert '"built_in": "a scratch database on the server of ' in res.stdout


def test_verify_refuses_database_url_and_names_server_url(server, tmp_project):
    tmp_project.pair(*GOOD)
    with databases_created_on(server.url()) as created:
        res = runner.invoke(app, ["verify", "-d", server.url(), "--project", str(tmp_project.path)])
    said = " ".join(res.stderr.split())
    assert res.exit_code == 2 and "verify reads no database" in said and "--server-url URL" in said
    assert created == set()


def test_verify_without_a_local_postgresql_says_server_url_is_the_other_way(tmp_project, tmp_path):
    tmp_project.pair(*GOOD)
    res = runner.invoke(app, ["verify", "--project", str(tmp_project.path)], env={"PG_BINDIR": str(tmp_path)})
    said = " ".join(res.stderr.split())
    assert res.exit_code == 3 and "no PostgreSQL server binaries" in said
    assert "pass --server-url URL to build in a scratch database on that server" in said
