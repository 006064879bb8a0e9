"""`dbtool check rls`: the audit of everything a tenant-facing role can reach, read live from the catalog.
On a database built from the migrations as they were before the isolation hardening it reports each
class of attack the review found; at head it reports nothing; and each class is reported again as
soon as someone reintroduces it."""

import json
from contextlib import contextmanager

import psycopg
import pytest
from typer.testing import CliRunner

from dbtool import config
from dbtool.cli import app
from dbtool.commands.check_rls import check_rls, run_audit
from dbtool.commands.migrate import migrate
from schema_support import APP, READONLY, old_project

runner = CliRunner()


def problems(url, project):
    findings, _ = check_rls(url, project)
    return {(f.object, f.problem.split(" (")[0]) for f in findings}


def rules(url, project) -> set[str]:
    return {f.rule for f in run_audit(url, project).findings}


@contextmanager
def role_changed(conn, role: str, change: str, undo: str):
    """Roles are cluster-wide: change one for the test and always change it back."""
    conn.execute(f"ALTER ROLE {role} {change}")
    try:
        yield
    finally:
        conn.execute(f"ALTER ROLE {role} {undo}")


def test_migrated_schema_is_clean(migrated_db, project, conn_to):
    audit = run_audit(migrated_db, project)
    # Counted independently of check rls's discovery: every tenant table of this schema has a
    # tenant_id column, plus public.tenants itself (the timeline's hypertable is in a private schema).
    with_column = conn_to(migrated_db).execute(
        """SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
             AND a.attname = 'tenant_id' AND NOT a.attisdropped""").fetchone()[0]
    assert audit.findings == []
    assert audit.tables_checked == with_column + 1


def test_before_the_hardening_every_attack_class_of_the_review_is_reported_and_none_at_head(
        tmp_path, db_factory, project, conn_to, server):
    """The schema as it was at 0015 (its own migrations and sql/ files), with pg_cron jobs scheduled by
    a superuser as dbtool then did: drop_chunk, chunk statistics, a forgeable context, pg_stat_statements()
    and superuser jobs are all reported; migrating to head clears every finding."""
    old = old_project(tmp_path / "old")
    if old is None:
        pytest.skip("git history is not available: the schema before the hardening cannot be rebuilt")
    url = db_factory()
    migrate(url, config.load(old), sync_cron=False)
    c = conn_to(url)
    c.execute("INSERT INTO public.tenants (id, subdomain, company_name) VALUES "
              "('00000000-0000-0000-0000-00000000000a', 'a', 'A')")
    c.execute("INSERT INTO public.activity_timeline (time, tenant_id, event_type) "
              "VALUES (now(), '00000000-0000-0000-0000-00000000000a', 'x')")
    # Old dbtool scheduled as whoever ran it; pg_cron here refuses new superuser jobs, so write the row.
    database = c.execute("SELECT current_database()").fetchone()[0]
    with psycopg.connect(server.url("postgres"), autocommit=True) as cc:
        cc.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        cc.execute("""INSERT INTO cron.job (schedule, command, nodename, nodeport, database, username, jobname)
                      VALUES ('0 * * * *', 'SELECT ops.cleanup_sessions()', 'localhost', 5432, %s, 'postgres',
                              %s)""", [database, f"cleanup_sessions@{database}"])
    before = run_audit(url, project).findings
    found = {f.rule for f in before}
    assert {"rls-extension-internal", "rls-readable-without-rls", "rls-forgeable-context", "rls-statement-texts",
            "rls-superuser-job"} <= found, found
    assert any("drop_chunk" in f.object for f in before)
    assert any("pg_stats" in f.problem and "timeline_chunks" in f.object for f in before)
    with psycopg.connect(server.url("postgres"), autocommit=True) as cc:
        cc.execute("DELETE FROM cron.job WHERE database = %s", [database])
    migrate(url, project)
    assert run_audit(url, project).findings == []


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


def test_reports_security_definer_functions_without_search_path_or_review(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("CREATE FUNCTION public.risky() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'")
    c.execute("CREATE FUNCTION public.safe() RETURNS int LANGUAGE sql SECURITY DEFINER "
              "SET search_path = pg_catalog AS 'SELECT 1'")
    c.execute("REVOKE EXECUTE ON FUNCTION public.safe() FROM PUBLIC")
    findings = run_audit(migrated_db, project).findings
    by_object = {(f.object, f.rule) for f in findings}
    assert ("function risky()", "function-search-path") in by_object
    assert ("function public.risky()", "rls-definer-function") in by_object  # PUBLIC may call it
    assert not any("safe()" in f.object for f in findings)


def test_reports_an_extension_internal_the_app_may_execute(migrated_db, project, conn_to):
    conn_to(migrated_db).execute("GRANT EXECUTE ON FUNCTION _timescaledb_functions.drop_chunk(regclass) TO PUBLIC")
    findings = [f for f in run_audit(migrated_db, project).findings if f.rule == "rls-extension-internal"]
    assert [f.object for f in findings] == ["function _timescaledb_functions.drop_chunk(regclass)"]
    assert "REVOKE EXECUTE ON ROUTINE _timescaledb_functions.drop_chunk(regclass) FROM PUBLIC" in findings[0].fix


def test_reports_a_tenant_matview_readable_by_public(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("CREATE MATERIALIZED VIEW public.mv_leak AS SELECT gen_random_uuid() AS tenant_id")
    c.execute("GRANT SELECT ON public.mv_leak TO PUBLIC")
    assert ("materialized view mv_leak", f"holds tenant rows without row-level security and {APP} can read its rows") \
        in problems(migrated_db, project)


def test_timeline_chunks_are_reported_as_soon_as_the_app_may_select_them(migrated_db, project, conn_to):
    """Chunks copy the hypertable's grants but not row-level security: with SELECT alone pg_stats shows
    their statistics; with USAGE on their schema too, their rows."""
    c = conn_to(migrated_db)
    c.execute("INSERT INTO public.tenants (id, subdomain, company_name) "
              "VALUES ('00000000-0000-0000-0000-00000000000a', 'a', 'A')")
    c.execute("INSERT INTO timeline.activity_timeline (time, tenant_id, event_type) "
              "VALUES (now(), '00000000-0000-0000-0000-00000000000a', 'note')")
    chunk = c.execute("SELECT format('%I.%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks "
                      "WHERE hypertable_name = 'activity_timeline'").fetchone()[0]
    assert run_audit(migrated_db, project).findings == []
    c.execute(f"GRANT SELECT ON {chunk} TO {APP}")
    stats = {f.problem for f in run_audit(migrated_db, project).findings if f.object == f"table {chunk}"}
    assert stats == {f"holds tenant rows without row-level security and {APP} sees its statistics in pg_stats "
                     "(values of every tenant)"}
    c.execute(f"GRANT USAGE ON SCHEMA timeline_chunks TO {APP}")
    found = {(f.rule, f.object) for f in run_audit(migrated_db, project).findings}
    assert {("rls-readable-without-rls", f"table {chunk}"), ("rls-private-schema", "schema timeline_chunks")} <= found


def private_schema_findings(url, project) -> set[tuple[str, str]]:
    return {(f.object, f.problem) for f in run_audit(url, project).findings if f.rule == "rls-private-schema"}


def test_a_private_schema_is_reported_once_the_app_reaches_something_there_row_level_security_does_not_guard(
        migrated_db, project, conn_to):
    """USAGE on a private schema is reported when the role reaches through it a relation without
    row-level security or a function; a schema opened to tables under row-level security alone (what
    0040 does on a Citus coordinator for the timeline and the audit trail) is not."""
    c = conn_to(migrated_db)
    reported = {("schema audit", f"is declared private but {APP} has USAGE on it")}
    c.execute("CREATE TABLE audit.probe (tenant_id uuid)")
    c.execute(f"GRANT USAGE ON SCHEMA audit TO {APP}")
    c.execute(f"GRANT SELECT ON audit.probe TO {APP}")
    assert private_schema_findings(migrated_db, project) == reported
    c.execute("ALTER TABLE audit.probe ENABLE ROW LEVEL SECURITY")
    c.execute("CREATE POLICY tenant_isolation ON audit.probe USING (tenant_id = app.verified_tenant())")
    assert private_schema_findings(migrated_db, project) == set()
    c.execute(f"GRANT EXECUTE ON FUNCTION audit.actor(uuid) TO {APP}")
    assert private_schema_findings(migrated_db, project) == reported
    c.execute(f"REVOKE EXECUTE ON FUNCTION audit.actor(uuid) FROM {APP}")
    c.execute("GRANT USAGE ON SCHEMA audit TO PUBLIC")  # PUBLIC: always reported
    assert ("schema audit", "is declared private but PUBLIC has USAGE on it") in private_schema_findings(
        migrated_db, project)


def test_a_policy_only_for_another_role_does_not_count_for_the_app(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("CREATE TABLE public.ops_only (id int, tenant_id uuid)")
    c.execute("ALTER TABLE public.ops_only ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY")
    c.execute("CREATE POLICY ops_all ON public.ops_only TO maplatform_ops USING (true)")
    assert ("table ops_only", "no policy for SELECT, INSERT, UPDATE, DELETE that applies to the tenant-facing roles") \
        in problems(migrated_db, project)


def test_a_policy_that_trusts_a_plain_setting_is_a_forgeable_context(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("DROP POLICY tenant_isolation ON public.notifications")
    c.execute("CREATE POLICY tenant_isolation ON public.notifications "
              "USING (tenant_id = current_setting('app.current_tenant', true)::uuid)")
    found = [f for f in run_audit(migrated_db, project).findings if f.rule == "rls-forgeable-context"]
    assert [f.object for f in found] == ["policy tenant_isolation on notifications"]


def test_the_context_relation_must_not_be_writable_by_the_app(migrated_db, project, conn_to):
    conn_to(migrated_db).execute(f"GRANT INSERT ON app.tenant_tokens TO {APP}")
    found = [f for f in run_audit(migrated_db, project).findings if f.rule == "rls-forgeable-context"]
    assert len(found) == 1 and "write it (and so choose its tenant)" in found[0].problem


def test_the_app_cannot_read_statement_texts_and_the_audit_reports_it_if_it_could(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    with c.transaction():
        c.execute(f"SET LOCAL ROLE {APP}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SELECT count(*) FROM public.pg_stat_statements(true)")
    c.execute("GRANT SELECT ON public.pg_stat_statements TO PUBLIC")
    c.execute("GRANT EXECUTE ON FUNCTION public.pg_stat_statements(boolean) TO PUBLIC")
    found = {(f.object, f.problem) for f in run_audit(migrated_db, project).findings if f.rule == "rls-statement-texts"}
    assert ("view pg_stat_statements", f"{APP} can read every tenant's statement texts") in found
    assert ("function public.pg_stat_statements(boolean)",
            f"{APP}, {READONLY} can read every tenant's statement texts") in found


def test_a_view_over_a_relation_without_rls_must_filter_on_the_verified_tenant(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    c.execute("SET ROLE maplatform_owner")
    c.execute("CREATE VIEW public.all_pipelines AS SELECT tenant_id, stage FROM public.pipeline_analytics")
    c.execute("RESET ROLE")
    found = {f.problem.split(":")[0] for f in run_audit(migrated_db, project).findings if f.rule == "rls-view-filter"}
    assert {f"shows rows of a relation without row-level security to {APP}, {READONLY} without filtering on the "
            "verified tenant", "is not security_barrier"} == found


def test_a_setting_the_app_role_stored_on_itself_is_reported(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    with role_changed(c, APP, "SET default_transaction_read_only = on", "RESET default_transaction_read_only"), \
            role_changed(c, APP, "SET statement_timeout = '5s'", "RESET statement_timeout"):
        found = [f for f in run_audit(migrated_db, project).findings if f.rule == "rls-role-setting"]
    assert [(f.object, "default_transaction_read_only=on" in f.problem) for f in found] == [(f"role {APP}", True)]


def test_roles_that_bypass_or_own_and_accept_connections_are_reported(migrated_db, project, conn_to):
    c = conn_to(migrated_db)
    with role_changed(c, "maplatform_maintenance", "LOGIN", "NOLOGIN"), \
            role_changed(c, "maplatform_owner", "CONNECTION LIMIT 5", "CONNECTION LIMIT 0"):
        found = {(f.object, f.problem.split(" and ")[0]) for f in run_audit(migrated_db, project).findings
                 if f.rule == "rls-login-role"}
    assert found == {("role maplatform_maintenance", "bypasses row-level security"),
                     ("role maplatform_owner", "owns tables with tenant data")}
    assert run_audit(migrated_db, project).findings == [], "LOGIN CONNECTION LIMIT 0 is the deliberate job role"


def test_a_superuser_cron_job_of_this_database_is_reported(migrated_db, project, conn_to, server):
    database = conn_to(migrated_db).execute("SELECT current_database()").fetchone()[0]
    with psycopg.connect(server.url("postgres"), autocommit=True) as cc:
        cc.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        cc.execute("""INSERT INTO cron.job (schedule, command, nodename, nodeport, database, username, jobname)
                      VALUES ('0 * * * *', 'SELECT 1', 'localhost', 5432, %s, 'postgres', 'rogue')""", [database])
    try:
        found = [f for f in run_audit(migrated_db, project).findings if f.rule == "rls-superuser-job"]
    finally:  # the cron database is shared by the whole session: leave no job behind
        with psycopg.connect(server.url("postgres"), autocommit=True) as cc:
            cc.execute("DELETE FROM cron.job WHERE jobname = 'rogue'")
    assert [f.object for f in found] == ["pg_cron job rogue"]


def test_an_empty_database_is_not_an_all_clear(empty_db, project):
    res = runner.invoke(app, ["check", "rls", "-d", empty_db, "--project", str(project.root)])
    assert res.exit_code == 1
    assert "no table with tenant data found" in res.stdout and "0 tenant table(s) checked" in res.stdout


def test_cli_exit_1_and_json_on_findings(migrated_db, project, conn_to):
    conn_to(migrated_db).execute("CREATE TABLE public.bare (tenant_id uuid)")
    res = runner.invoke(app, ["check", "rls", "-d", migrated_db, "--project", str(project.root), "--json"])
    assert res.exit_code == 1
    body = json.loads(res.stdout)
    assert any(f["object"] == "table bare" and f["rule"] == "tenant-table-rls" for f in body["findings"])


def test_a_project_that_declares_no_tenancy_is_told_so_instead_of_audited_as_another_schema(migrated_db,
                                                                                          tmp_project):
    res = runner.invoke(app, ["check", "rls", "-d", migrated_db, "--project", str(tmp_project.path)])
    assert res.exit_code == 2, res.output
    assert "declares no tenancy: [tool.dbtool.rls] names no tenant_column or tenant_table" in res.output


def test_every_audit_rule_has_a_doc_page():
    """Each finding names a rule; the rule's page says why it matters and how to fix it."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    source = (root / "dbtool" / "commands" / "check_rls.py").read_text()
    rules = set(re.findall(r'"((?:rls|tenant|function)-[a-z-]+)"', source))
    assert {"rls-readable-without-rls", "rls-superuser-job", "tenant-table-rls"} <= rules
    missing = [r for r in sorted(rules) if not (root / "docs" / "rules" / f"{r}.md").read_text().startswith(f"# {r}")]
    assert missing == []
