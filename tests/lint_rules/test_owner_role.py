"""owner-role: after the roles migration, transactional migrations, their rollbacks and repeatable
files start with SET LOCAL ROLE <owner>."""

from __future__ import annotations

from dbtool.commands.lint import lint
from lint_support import HEADER, hits, pair

ROLES = "DO $$ BEGIN CREATE ROLE maplatform_owner NOLOGIN; END $$;\n"


def test_files_after_the_roles_migration_start_by_setting_the_owner_role(proj):
    pair(proj, "0001_create_roles", ROLES)
    proj.pair("0002_create_deals", HEADER + "SET LOCAL ROLE maplatform_owner;\nCREATE TABLE public.deals (id bigint);\n",
              HEADER + "DROP TABLE public.deals;\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("owner-role", "migrations/0002_create_deals.rollback.sql", 4)}


def test_a_roles_migration_creating_roles_with_format_starts_the_owner_role_rule(proj):
    pair(proj, "0001_create_roles", "DO $$ DECLARE r text; BEGIN FOREACH r IN ARRAY ARRAY['maplatform_owner'] LOOP "
                                   "EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r); END LOOP; END $$;\n")
    proj.pair("0002_create_deals", HEADER + "CREATE TABLE public.deals (id bigint);\n",
              HEADER + "SET LOCAL ROLE maplatform_owner;\nDROP TABLE public.deals;\n")
    rep = lint(proj.load(), layers=["rules"])
    assert hits(rep) == {("owner-role", "migrations/0002_create_deals.sql", 4)}


def test_before_a_roles_migration_nothing_is_asked(proj):
    pair(proj, "0001_create_deals", "CREATE TABLE public.deals (id bigint);\n", "DROP TABLE public.deals;\n")
    assert lint(proj.load(), layers=["rules"]).clean


def test_files_that_set_the_owner_role_and_non_transactional_migrations_pass(proj):
    pair(proj, "0001_create_roles", ROLES)
    pair(proj, "0002_create_deals", "SET LOCAL ROLE maplatform_owner;\nCREATE TABLE public.deals (id bigint);\n",
         "SET LOCAL ROLE maplatform_owner;\nDROP TABLE public.deals;\n")
    proj.pair("0003_index_deals", "-- transactional: false\n-- Why: build it without blocking writes.\n"
              "CREATE INDEX CONCURRENTLY deals_id_idx ON public.deals (id);\n",
              HEADER + "DROP INDEX CONCURRENTLY public.deals_id_idx;\n")
    assert lint(proj.load(), layers=["rules"]).clean


def test_given_files_are_checked_against_the_roles_migration_of_the_whole_project(proj):
    pair(proj, "0001_create_roles", ROLES)
    pair(proj, "0002_create_deals", "CREATE TABLE public.deals (id bigint);\n", "DROP TABLE public.deals;\n")
    pair(proj, "0003_create_notes", "CREATE TABLE public.notes (id bigint);\n", "DROP TABLE public.notes;\n")
    only = str(proj.path / "migrations" / "0003_create_notes.sql")
    rep = lint(proj.load(), paths=[only], layers=["rules"])
    assert hits(rep) == {("owner-role", "migrations/0003_create_notes.sql", 4),
                         ("owner-role", "migrations/0003_create_notes.rollback.sql", 4)}


def test_the_owner_role_rule_follows_the_projects_owner_role_and_is_off_without_one(tmp_project):
    tmp_project.pair("0001_create_roles", HEADER + "CREATE ROLE shop_owner NOLOGIN;\n", HEADER + "DROP ROLE shop_owner;\n")
    tmp_project.pair("0002_create_books", HEADER + "CREATE TABLE public.books (id bigint);\n",
                     HEADER + "SET LOCAL ROLE shop_owner;\nDROP TABLE public.books;\n")
    assert hits(lint(tmp_project.load(), layers=["rules"])) == set()  # [tool.dbtool] names no owner role
    (tmp_project.path / "pyproject.toml").write_text('[tool.dbtool]\nowner_role = "shop_owner"\n')
    assert hits(lint(tmp_project.load(), layers=["rules"])) == {("owner-role", "migrations/0002_create_books.sql", 4)}
