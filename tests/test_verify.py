"""`dbtool verify`: up, down, up on a scratch database, for the real migrations and broken ones."""

from typer.testing import CliRunner

from dbtool.cli import app
from dbtool.commands.verify import verify

runner = CliRunner()


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
    res = runner.invoke(app, ["verify", "-d", server.url(), "--project", str(tmp_project.path), "-q"])
    assert res.exit_code == 1
    assert "0001_create_t: the rollback does not restore" in res.stdout
    assert "removed" not in res.stdout and "added    table" in res.stdout
