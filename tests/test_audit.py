"""pgaudit (migration 0022, docs/audit.md): loaded in the test clusters as in dev and production,
logging every schema and role change of the database, whoever makes it, and no row traffic.
The audit lines are read as the session's own notices (pgaudit.log_client): the same lines the
server log gets, without reading its file."""

from __future__ import annotations

import os

import psycopg
import pytest

from dbtool.commands.doctor import doctor
from dbtool.commands.migrate import migrate


@pytest.fixture(scope="module")
def audited_db(server, project):
    """Migrated from empty: a clone of the template would not do, CREATE DATABASE ... TEMPLATE does
    not copy a database's settings (nor does pg_dump: docs/audit.md)."""
    name = f"audit_{os.getpid()}"
    server.create_db(name)
    try:
        migrate(server.url(name), project, sync_cron=False)
        yield server.url(name)
    finally:
        server.drop_db(name)


def audited(url: str, *statements: str, role: str | None = None) -> list[str]:
    lines: list[str] = []
    with psycopg.connect(url, autocommit=True) as c:
        c.add_notice_handler(lambda d: lines.append(d.message_primary or ""))
        c.execute("SET pgaudit.log_client = on")  # superuser-only settings: set before any SET ROLE
        c.execute("SET pgaudit.log_level = notice")
        if role:
            c.execute(f"SET ROLE {role}")
        for statement in statements:
            c.execute(statement)
    return [line for line in lines if line.startswith("AUDIT:")]


def test_pgaudit_is_loaded_and_the_database_logs_ddl_and_role_changes(audited_db, conn_to):
    c = conn_to(audited_db)
    assert "pgaudit" in c.execute("SHOW shared_preload_libraries").fetchone()[0]
    settings = c.execute("""SELECT setconfig FROM pg_db_role_setting
                            WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_database
                                                                 WHERE datname = current_database())""").fetchone()[0]
    assert "pgaudit.log=ddl, role" in settings


def test_a_schema_change_and_a_role_change_land_in_the_audit_log(audited_db):
    lines = audited(audited_db, "CREATE TABLE public.audit_probe (id int)",
                    "GRANT SELECT ON public.audit_probe TO maplatform_readonly", "DROP TABLE public.audit_probe")
    kinds = [line.split(",")[3:5] for line in lines]
    assert kinds == [["DDL", "CREATE TABLE"], ["ROLE", "GRANT"], ["DDL", "DROP TABLE"]], lines
    assert "CREATE TABLE public.audit_probe (id int)" in lines[0]


def test_the_owner_roles_changes_are_logged_too_and_reads_are_not(audited_db):
    lines = audited(audited_db, "CREATE VIEW public.audit_view AS SELECT 1 AS one", "SELECT * FROM public.audit_view",
                    "DROP VIEW public.audit_view", role="maplatform_owner")
    assert [line.split(",")[3:5] for line in lines] == [["DDL", "CREATE VIEW"], ["DDL", "DROP VIEW"]], lines


def test_reads_and_writes_of_the_regulated_tables_are_logged_by_object_and_others_are_not(audited_db):
    """0026: pgaudit.role = maplatform_auditor, which holds privileges on data rooms, their
    permissions, documents and valuations only: a statement on those is an OBJECT line naming the
    table, whoever runs it; on deals, nothing."""
    lines = audited(audited_db, "SELECT count(*) FROM public.documents", "SELECT count(*) FROM public.deals",
                    "UPDATE public.valuations SET notes = notes WHERE false", role="maplatform_app")
    objects = [line.split(",")[3:7] for line in lines if line.split(",")[0] == "AUDIT: OBJECT"]
    assert objects == [["READ", "SELECT", "TABLE", "public.documents"],
                       ["WRITE", "UPDATE", "TABLE", "public.valuations"]], lines


@pytest.mark.parametrize("table", ["data_rooms", "data_room_permissions", "documents", "valuations"])
def test_the_owner_role_cannot_truncate_a_regulated_table_which_object_audit_would_not_see(audited_db, conn_to, table):
    c = conn_to(audited_db)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), c.transaction():
        c.execute("SET LOCAL ROLE maplatform_owner")
        c.execute(f"TRUNCATE public.{table} CASCADE")


def test_nobody_logs_in_as_or_belongs_to_the_auditor_role(audited_db, conn_to):
    c = conn_to(audited_db)
    assert c.execute("SELECT rolcanlogin, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'maplatform_auditor'"
                     ).fetchone() == (False, False, False)
    assert c.execute("""SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid IN (m.roleid, m.member)
                        WHERE r.rolname = 'maplatform_auditor'""").fetchone()[0] == 0


def test_doctor_reports_a_server_without_pgaudit(bare_server, project):
    checks = {c.name: c for c in doctor(bare_server.url(), project)}
    assert checks["shared_preload_libraries"].status == "missing"
    assert "pgaudit" in checks["shared_preload_libraries"].fix


def test_doctor_says_when_a_database_lost_its_audit_setting(migrated_db, conn_to, project):
    """A pg_dump restore or a plain clone of a migrated database lacks 0022's database setting."""
    conn_to(migrated_db).execute(f"ALTER DATABASE \"{migrated_db.rsplit('/', 1)[1]}\" RESET pgaudit.log")
    check = {c.name: c for c in doctor(migrated_db, project)}["audit log"]
    assert check.status == "missing" and "SET pgaudit.log = 'ddl, role'" in check.fix


def test_doctor_finds_the_audit_setting_where_migrate_left_it(audited_db, project):
    checks = {c.name: c for c in doctor(audited_db, project)}
    assert checks["audit log"].status == "ok"
    assert checks["object audit"].status == "ok"
    assert checks["object audit"].value.startswith("pgaudit.role = maplatform_auditor: reads and writes of the 4 table")


def test_doctor_warns_when_a_database_lost_its_object_audit(migrated_db, conn_to, project):
    conn_to(migrated_db).execute(f"ALTER DATABASE \"{migrated_db.rsplit('/', 1)[1]}\" RESET pgaudit.role")
    check = {c.name: c for c in doctor(migrated_db, project)}["object audit"]
    assert check.status == "warn" and "SET pgaudit.role" in check.fix
