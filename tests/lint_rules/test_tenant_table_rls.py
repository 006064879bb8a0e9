"""tenant-table-rls: a new table with a tenant column enables and forces row-level security in its migration."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import HEADER, hits, pair


def test_new_tenant_table_without_rls_is_flagged_at_the_table_name(proj):
    pair(proj, "0001_create_notes", """
        CREATE TABLE public.tenants (id uuid PRIMARY KEY);
        CREATE TABLE public.notes (
            id bigint PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES public.tenants (id)
        );
        CREATE TABLE public.deals (id bigint PRIMARY KEY, tenant_id uuid NOT NULL);
        ALTER TABLE public.deals ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.deals FORCE ROW LEVEL SECURITY;
        CREATE TABLE public.tasks (id bigint PRIMARY KEY, tenant_id uuid NOT NULL);
        ALTER TABLE public.tasks ENABLE ROW LEVEL SECURITY;
        """, "DROP TABLE public.tasks, public.deals, public.notes, public.tenants;\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("tenant-table-rls", "migrations/0001_create_notes.sql", 5),
                         ("tenant-table-rls", "migrations/0001_create_notes.sql", 12)}
    notes, tasks = sorted(rep.findings, key=lambda f: f.line)
    assert notes.col == len("CREATE TABLE ") + 1
    assert "does not enable and force" in notes.message and "does not force" in tasks.message


def test_a_tenant_table_with_row_level_security_enabled_and_forced_passes(proj):
    pair(proj, "0001_create_notes", """
        CREATE TABLE public.notes (id bigint PRIMARY KEY, tenant_id uuid NOT NULL);
        ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
        ALTER TABLE public.notes FORCE ROW LEVEL SECURITY;
        """, "DROP TABLE public.notes;\n")
    assert lint(proj.load(), layers=["rules"]).clean


def test_the_tenant_table_rule_follows_the_projects_tenant_column_and_is_off_without_one(tmp_project):
    tmp_project.pair("0001_create_books", HEADER + "CREATE TABLE public.books (id bigint, shop_id bigint);\n",
                     HEADER + "DROP TABLE public.books;\n")
    assert hits(lint(tmp_project.load(), layers=["rules"])) == set()  # no tenancy declared
    (tmp_project.path / "pyproject.toml").write_text('[tool.dbtool.rls]\ntenant_column = "shop_id"\n')
    assert hits(lint(tmp_project.load(), layers=["rules"])) == {("tenant-table-rls", "migrations/0001_create_books.sql", 4)}


def test_a_table_in_a_private_schema_is_left_to_check_rls(tmp_project):
    tmp_project.pair("0001_create_vault", HEADER + "CREATE TABLE vault.secrets (id bigint, shop_id bigint);\n",
                     HEADER + "DROP TABLE vault.secrets;\n")
    (tmp_project.path / "pyproject.toml").write_text('[tool.dbtool.rls]\ntenant_column = "shop_id"\n')
    assert hits(lint(tmp_project.load(), layers=["rules"])) == {("tenant-table-rls", "migrations/0001_create_vault.sql", 4)}
    (tmp_project.path / "pyproject.toml").write_text('[tool.dbtool.rls]\ntenant_column = "shop_id"\n'
                                                     'private_schemas = ["vault"]\n')
    assert hits(lint(tmp_project.load(), layers=["rules"])) == set()
