"""`dbtool check rls` finds tenant tables without enforced isolation, from the live catalog."""

import json

import psycopg
import pytest

from typer.testing import CliRunner

from dbtool.cli import app
from dbtool.commands.check_rls import check_rls

runner = CliRunner()


def problems(url, project):
    findings, _ = check_rls(url, project)
    return {(f.object, f.problem.split(" (")[0]) for f in findings}


def test_migrated_schema_is_clean(migrated_db, project, conn_to):
    findings, checked = check_rls(migrated_db, project)
    # Counted independently of check rls's discovery: every tenant table of this schema has a
    # tenant_id column, plus public.tenants itself.
    with_column = conn_to(migrated_db).execute(
        """SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
             AND a.attname = 'tenant_id' AND NOT a.attisdropped""").fetchone()[0]
    assert findings == []
    assert checked == with_column + 1


def test_reports_a_table_created_without_rls(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("CREATE SCHEMA IF NOT EXISTS extra")
    c.execute("CREATE TABLE extra.leaky (id int PRIMARY KEY, tenant_id uuid NOT NULL)")
    assert problems(migrated_db, project) >= {
        ("table extra.leaky", "row level security is not enabled"),
        ("table extra.leaky", "row level security is not forced: its owner bypasses it"),
        ("table extra.leaky", "no policy for SELECT, INSERT, UPDATE, DELETE that applies to the tenant-facing roles"),
    }


def test_reports_enabled_but_not_forced_and_missing_commands(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("CREATE TABLE public.half (id int, tenant_id uuid)")
    c.execute("ALTER TABLE public.half ENABLE ROW LEVEL SECURITY")
    c.execute("CREATE POLICY only_read ON public.half FOR SELECT USING (tenant_id IS NOT NULL)")
    found = problems(migrated_db, project)
    assert ("table half", "row level security is not forced: its owner bypasses it") in found
    assert ("table half", "no policy for INSERT, UPDATE, DELETE that applies to the tenant-facing roles") in found
    assert not any(p == "row level security is not enabled" for o, p in found if o == "table half")


def test_a_table_without_tenant_id_but_referencing_a_tenant_table_counts(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("CREATE TABLE public.owner_t (id int PRIMARY KEY, tenant_id uuid)")
    c.execute("ALTER TABLE public.owner_t ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY")
    c.execute("CREATE POLICY p ON public.owner_t USING (true)")
    c.execute("CREATE TABLE public.child_t (id int, owner_id int REFERENCES public.owner_t (id))")
    findings, _ = check_rls(migrated_db, project)
    child = [f for f in findings if f.object == "table child_t"]
    assert child and "references owner_t" in child[0].problem


def test_reports_security_definer_function_without_search_path(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("CREATE FUNCTION public.risky() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'")
    c.execute("CREATE FUNCTION public.safe() RETURNS int LANGUAGE sql SECURITY DEFINER "
              "SET search_path = pg_catalog AS 'SELECT 1'")
    found = problems(migrated_db, project)
    assert ("function risky()", "SECURITY DEFINER without a fixed search_path") in found
    assert not any(o == "function safe()" for o, _ in found)


def test_reports_a_tenant_matview_readable_by_public(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("CREATE MATERIALIZED VIEW public.mv_leak AS SELECT gen_random_uuid() AS tenant_id")
    c.execute("GRANT SELECT ON public.mv_leak TO PUBLIC")
    assert ("materialized view mv_leak", "holds tenant data and PUBLIC can read it") in problems(migrated_db, project)


def test_cli_exit_1_and_json_on_findings(migrated_db, project, conn_to):
    conn_to(migrated_db).execute("CREATE TABLE public.bare (tenant_id uuid)")
    res = runner.invoke(app, ["check", "rls", "-d", migrated_db, "--project", str(project.root), "--json"])
    assert res.exit_code == 1
    body = json.loads(res.stdout)
    assert any(f["object"] == "table bare" for f in body["findings"])


def test_timeline_chunks_the_app_cannot_reach_are_not_findings_but_reachable_ones_are(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("INSERT INTO public.tenants (id, subdomain, company_name) "
              "VALUES ('00000000-0000-0000-0000-00000000000a', 'a', 'A')")
    c.execute("INSERT INTO public.activity_timeline (time, tenant_id, event_type) "
              "VALUES (now(), '00000000-0000-0000-0000-00000000000a', 'note')")
    chunk = c.execute("SELECT format('%I.%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks "
                      "WHERE hypertable_name = 'activity_timeline'").fetchone()[0]
    assert check_rls(migrated_db, project)[0] == []
    c.execute(f"GRANT USAGE ON SCHEMA {chunk.split('.')[0]} TO maplatform_app")
    c.execute(f"GRANT SELECT ON {chunk} TO maplatform_app")
    assert any(f.object == f"table {chunk}" for f in check_rls(migrated_db, project)[0])


def test_a_policy_only_for_another_role_does_not_count_for_the_app(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("CREATE TABLE public.ops_only (id int, tenant_id uuid)")
    c.execute("ALTER TABLE public.ops_only ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY")
    c.execute("CREATE POLICY ops_all ON public.ops_only TO maplatform_ops USING (true)")
    assert ("table ops_only", "no policy for SELECT, INSERT, UPDATE, DELETE that applies to the tenant-facing roles") \
        in problems(migrated_db, project)


def test_the_app_cannot_read_statement_texts_and_check_rls_reports_it_if_it_could(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    assert not c.execute("SELECT has_table_privilege('maplatform_app', 'public.pg_stat_statements', 'SELECT')"
                         ).fetchone()[0]
    with c.transaction():
        c.execute("SET LOCAL ROLE maplatform_app")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SELECT count(*) FROM public.pg_stat_statements")
    c.execute("GRANT SELECT ON public.pg_stat_statements TO PUBLIC")
    assert ("view pg_stat_statements", "maplatform_app can read every tenant's statement texts") \
        in problems(migrated_db, project)
