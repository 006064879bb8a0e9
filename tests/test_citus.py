"""dbtool on Citus: a coordinator and two workers on loopback, from the PostgreSQL prefix named by
DBTOOL_TEST_CITUS_BINDIR (its bin folder, with Citus installed; docs/citus.md says how to build one).
Without it the cluster tests skip with that reason; the plain-PostgreSQL side runs always.

What these prove today: the migrations apply from empty through the coordinator with no manual step
(dbtool prepares the workers: the owner role's login there, pgvector in their sessions, the roles
recorded per database), drift is clean, a worker is refused, doctor reads the cluster; on a tiny
project of its own, that drift reads how each table is distributed (kind citus_table) and nothing of
the shards; 0038 makes the timeline and the audit trail tables partitioned by month (Citus' time
partitions) on a coordinator, everything else about them as it was, and its rollback the hypertables
again; on two small tables of their own distributed by tenant with forced row-level security, that
the verified tenant context reaches the workers (0034), one audit event per token registration
(0033), and no other session's token readable on the workers; 0039 distributes every tenant table by
tenant_id in one group and the global ones as reference tables, the materialized views intact, and
through the coordinator, as a login of each tenant-facing role, tests/test_attacks.py's sweep finds
no row of another tenant and each documented tenant query reads one shard; and what a login of each
tenant-facing role reaches on a worker, enumerated from each node's catalog, is no more than on the
coordinator, the shards under their forced row-level security (docs/citus.md, "Isolation on the
workers")."""

from __future__ import annotations

import itertools
import os
import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from dbtool import catalog, citus, cluster, config, migrations, snapshots, tenant_token
from dbtool.commands import dev
from dbtool.commands.doctor import doctor
from dbtool.commands.drift import drift
from dbtool.commands.migrate import migrate
from dbtool.commands.rollback import rollback
from dbtool.commands.status import status
from dbtool.errors import DbtoolError
from dbtool.migrations import read as read_migrations
from dbtool.schemadoc import markdown, model

from cli_support import run
from schema_support import APP, acting_as, attempt, seed_tenant

ROOT = Path(__file__).resolve().parent.parent
CITUS_BINDIR = os.environ.get("DBTOOL_TEST_CITUS_BINDIR")
needs_citus = pytest.mark.skipif(
    not CITUS_BINDIR, reason="no Citus build: set DBTOOL_TEST_CITUS_BINDIR to the bin folder of a PostgreSQL 15 "
                             "prefix with Citus installed (docs/citus.md)")
OWNER = "maplatform_owner"
_dbs = itertools.count(1)
# What a coordinator has that plain PostgreSQL has not, in the kinds both read (0038: the timeline and
# the audit trail are tables partitioned by month, not hypertables; docs/citus.md). The committed
# snapshots are made on plain PostgreSQL: drift on a coordinator against them shows exactly these, until
# a committed snapshot made on Citus exists.
ONLY_ON_CITUS = sorted([
    ("added", "cron_job", "activity_timeline_partitions"), ("added", "cron_job", "audit_events_partitions"),
    ("added", "function", "audit.create_event_partitions()"),
    ("added", "function", "ops.create_activity_timeline_partitions()"),
    ("changed", "function", "audit.drop_expired_events()"),
    ("changed", "function", "ops.drop_expired_activity_timeline()"),
    ("removed", "hypertable", "audit.events"), ("removed", "hypertable", "timeline.activity_timeline"),
    ("changed", "index", "audit.events_tenant_id_time_idx"),
    ("changed", "index", "timeline.activity_timeline_deal_id_time_idx"),
    ("changed", "index", "timeline.activity_timeline_tenant_id_time_idx"),
    ("changed", "index", "timeline.activity_timeline_user_id_time_idx"),
    ("changed", "table", "audit.events"), ("changed", "table", "timeline.activity_timeline"),
    ("removed", "trigger", "audit.events.ts_insert_blocker"),
    ("removed", "trigger", "timeline.activity_timeline.ts_insert_blocker")])
# At head: 0039 also makes the timeline's two SET NULL keys NO ACTION (Citus refuses the action); 0040
# gives both tables row-level security and the views' privileges, and the timeline's view an insert trigger;
# 0042 the updated_at trigger's function the distributed transaction's timestamp.
ONLY_ON_CITUS_AT_HEAD = sorted(ONLY_ON_CITUS + [
    ("changed", "constraint", "timeline.activity_timeline.activity_timeline_tenant_id_deal_id_fkey"),
    ("changed", "constraint", "timeline.activity_timeline.activity_timeline_tenant_id_user_id_fkey"),
    ("added", "function", "timeline.insert_through_view()"),
    ("added", "policy", "audit.events.tenant_isolation"),
    ("added", "policy", "timeline.activity_timeline.tenant_isolation"),
    ("changed", "schema", "audit"), ("changed", "schema", "timeline"),
    ("added", "trigger", "public.activity_timeline.insert_through_view"),
    ("changed", "function", "app.touch_updated_at()")])  # 0042: one updated_at on every copy


def citus_drift(url: str, project) -> list[tuple[str, str, str]]:
    """drift against the committed snapshot of one server (schema/snapshot.yaml: what differs on Citus
    but distribution, which it has no record of), as (action, kind, name), sorted."""
    with psycopg.connect(url, autocommit=True) as c:
        edition = snapshots.edition(c)
    plain = snapshots.snapshot_file(project, edition)
    return sorted((c.action, c.kind, c.name) for c in drift(url, project, against=plain).changes)


@dataclass
class CitusCluster:
    ports: list[int]  # coordinator first

    def url(self, dbname: str, node: int = 0) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports[node]}/{dbname}"

    def sql(self, node: int, dbname: str, statement: str, params=None) -> list:
        with psycopg.connect(self.url(dbname, node), autocommit=True) as c:
            cur = c.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def database(self) -> str:
        """A new database with Citus on every node and the workers registered: the coordinator's URL."""
        name = f"citus{next(_dbs)}_{os.getpid()}"
        for node in range(len(self.ports)):
            self.sql(node, "postgres", f'CREATE DATABASE "{name}"')
            self.sql(node, name, "CREATE EXTENSION citus")
        self.sql(0, name, "SELECT citus_set_coordinator_host('127.0.0.1', %s)", [self.ports[0]])
        for port in self.ports[1:]:
            self.sql(0, name, "SELECT citus_add_node('127.0.0.1', %s)", [port])
        return self.url(name)


@pytest.fixture(scope="module")
def citus_cluster(tmp_path_factory):
    if not CITUS_BINDIR:
        pytest.skip("no Citus build (DBTOOL_TEST_CITUS_BINDIR)")
    bindir = Path(CITUS_BINDIR)
    base = tmp_path_factory.mktemp("citus") / "nodes"
    nodes = [(base / name, cluster.free_port()) for name in ("coordinator", "worker1", "worker2")]
    options = " ".join([
        f"-c shared_preload_libraries='citus,{cluster.PRELOAD}'", "-c cron.database_name=postgres",
        "-c timescaledb.telemetry_level=off", "-c timescaledb.max_background_workers=0",
        "-c max_prepared_transactions=100", "-c max_connections=100", "-c citus.node_conninfo='sslmode=disable'",
        "-c cron.use_background_workers=on -c cron.enable_superuser_jobs=off -c max_worker_processes=32",
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off", "-c listen_addresses=127.0.0.1",
        "-c unix_socket_directories=''"])
    for datadir, port in nodes:  # trust: a throwaway cluster on private ports, as pytest-postgresql's
        cluster.initdb(datadir, bindir=bindir)
        cluster.start(datadir, port, datadir.parent / f"{datadir.name}.log", options, bindir=bindir)
    made = CitusCluster([port for _, port in nodes])
    made.sql(0, "postgres", "CREATE EXTENSION pg_cron")  # cron.database_name, where dbtool schedules the jobs
    yield made
    for datadir, _ in nodes:
        cluster.stop(datadir, bindir=bindir)


@pytest.fixture(scope="module")
def citus_migrated(citus_cluster, project):
    """One database migrated from empty through the coordinator, with what migrate reported."""
    url = citus_cluster.database()
    return url, migrate(url, project)


def owner_limits(citus_cluster: CitusCluster, url: str, role: str = OWNER) -> list[tuple]:
    dbname = url.rsplit("/", 1)[1]
    return [citus_cluster.sql(n, dbname, "SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = %s",
                              [role])[0] for n in range(3)]


# Two co-located tenant tables and a reference table; 0001 alone is the same tables undistributed.
CREATE_TABLES = """-- Why: test.
CREATE TABLE public.a (tenant_id bigint NOT NULL, id bigint NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE public.b (tenant_id bigint NOT NULL, id bigint NOT NULL, a_id bigint, PRIMARY KEY (tenant_id, id));
CREATE INDEX b_a_id ON public.b (a_id);
CREATE TABLE public.kinds (code text PRIMARY KEY, label text);
"""
DISTRIBUTE = """-- Why: test.
SELECT create_distributed_table('public.a', 'tenant_id');
SELECT create_distributed_table('public.b', 'tenant_id', colocate_with => 'public.a');
SELECT create_reference_table('public.kinds');
"""
UNDISTRIBUTE = """SELECT undistribute_table('public.b'); SELECT undistribute_table('public.a');
SELECT undistribute_table('public.kinds');
"""
A_AND_B = {"type": "distributed", "method": "hash", "distribution_column": "tenant_id", "shard_count": 32,
           "colocation_group": "public.a"}


@pytest.fixture(scope="module")
def dist_project(tmp_path_factory) -> config.Project:
    root = tmp_path_factory.mktemp("citus_dist")
    (root / "migrations").mkdir()
    (root / "pyproject.toml").write_text('[tool.dbtool]\ndatabase = "scratch"\n')
    for mid, forward, rollback in [("0001_create_tables", CREATE_TABLES, "DROP TABLE public.a, public.b, public.kinds;\n"),
                                   ("0002_distribute_tables", DISTRIBUTE, UNDISTRIBUTE)]:
        (root / "migrations" / f"{mid}.sql").write_text(forward)
        (root / "migrations" / f"{mid}.rollback.sql").write_text(rollback)
    return config.load(root)


@pytest.fixture
def distributed(citus_cluster, dist_project, tmp_path):
    """A new database of the cluster migrated with dist_project, and its snapshot file taken then."""
    url = citus_cluster.database()
    migrate(url, dist_project)
    path = tmp_path / "snapshot.yaml"
    snapshots.write(snapshots.take(url, dist_project), path)
    return url, path


def changes(url: str, project, path: Path) -> list[tuple[str, str, str, dict | None]]:
    return [(c.action, c.kind, c.name, c.after) for c in drift(url, project, against=path).changes]


# ----- plain PostgreSQL: Citus changes nothing ---------------------------------------------------


def test_a_server_without_citus_is_a_plain_node_and_doctor_has_no_citus_lines(migrated_db, conn_to, project):
    assert citus.node(conn_to(migrated_db)) == citus.Node("plain")
    assert citus.prepare(conn_to(migrated_db), project) == []
    assert not [c for c in doctor(migrated_db, project) if c.name.startswith("citus")]


def test_a_plain_database_has_no_citus_kind_in_its_snapshot(migrated_db):
    """Absent, not empty: the committed snapshots of plain servers stay as they were."""
    assert not set(catalog.CITUS_KINDS) & set(snapshots.take(migrated_db).data)


def test_no_table_of_the_schema_stores_an_oid(migrated_db, conn_to):
    """An oid differs on every node of a Citus cluster and changes when Citus rebuilds a table (0021:
    app.resource_types names its tables)."""
    rows = conn_to(migrated_db).execute("""
        SELECT a.attrelid::regclass::text, a.attname FROM pg_attribute AS a
        JOIN pg_class AS c ON c.oid = a.attrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
          AND n.nspname IN ('public', 'app', 'app_private', 'timeline', 'ops')
          AND a.atttypid = ANY (ARRAY['oid', 'regclass', 'regproc', 'regprocedure', 'regtype', 'regnamespace',
                                      'regrole', 'regoper', 'regconfig']::regtype[])""").fetchall()
    assert rows == []


def test_reference_checks_ask_the_referenced_table_one_tenant_at_a_time(seeded_db, conn_to):
    """Citus cannot join a shard's transition table with a distributed table: since 0021 the array and
    polymorphic reference triggers read the statement's rows alone, then query the referenced table
    with one tenant's ids (pg_stat_statements sees every statement a trigger runs: track = all)."""
    c = conn_to(seeded_db)
    c.execute("SELECT pg_stat_statements_reset()")
    with c.transaction(force_rollback=True):
        assert c.execute("UPDATE public.tasks SET depends_on = depends_on WHERE cardinality(depends_on) > 0").rowcount
        assert c.execute("UPDATE public.comments SET commentable_id = commentable_id").rowcount
    ran = [q for (q,) in c.execute("""SELECT query FROM pg_stat_statements
                                      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())""")]
    reading_rows = [q for q in ran if "new_rows" in q]
    assert len(reading_rows) >= 2, ran
    assert not [q for q in reading_rows if "public." in q or "app." in q], reading_rows
    per_tenant = [q for q in ran if "t.tenant_id = $1" in q and "unnest($2)" in q]
    assert any("public.tasks AS t" in q for q in per_tenant) and any("AS t" in q for q in per_tenant), ran


def test_a_coordinator_has_its_own_committed_snapshot_file_and_says_so_in_its_header(project, tmp_path):
    """0038 and 0039 build another schema on a coordinator: drift there compares with
    schema/snapshot.citus.yaml, which `make snapshot-citus` writes and whose header says Citus."""
    root = project.root / "schema"
    assert snapshots.snapshot_file(project, "apache", citus=True) == root / "snapshot.citus.yaml"
    assert snapshots.snapshot_file(project, None, citus=True) == root / "snapshot.citus.yaml"
    assert snapshots.snapshot_file(project, "timescale", citus=True) == root / "snapshot.citus.timescale.yaml"
    assert snapshots.snapshot_file(project, "apache") == root / "snapshot.yaml"
    assert snapshots.make_command("apache", citus=True) == (
        "`PG_BINDIR=<bin folder of a PostgreSQL with Citus> make snapshot-citus`")
    for as_json in (False, True):
        path = tmp_path / f"s{as_json}.yaml"
        snapshots.write(snapshots.Snapshot({"table": {}}, "0001_x", "apache", citus=True), path, as_json=as_json)
        assert snapshots.read_file(path).citus
        snapshots.write(snapshots.Snapshot({"table": {}}, "0001_x", "apache"), path, as_json=as_json)
        assert not snapshots.read_file(path).citus
    assert "snapshot-citus:" in (project.root / "Makefile").read_text()


# Citus' shards left out: the coordinator holds a placement of each reference table (tenants), with its policy.
# The policies of sql/policies/ (0040's, on the private timeline and audit trail on Citus, are not files)
TENANT_POLICIES = """SELECT polrelid::regclass::text, pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)
                     FROM pg_policy JOIN pg_class ON pg_class.oid = polrelid
                     WHERE polname = 'tenant_isolation' AND relname !~ '_[0-9]{6,}$'
                       AND relnamespace = 'public'::regnamespace ORDER BY 1"""


def tenant_column(table: str) -> str:
    return "id" if table == "tenants" else "tenant_id"


def test_on_plain_postgresql_every_tenant_policy_reads_the_tenant_once_per_statement(migrated_db, conn_to):
    """The policy files create the plain call Citus needs and, without Citus, put it in a sub-select:
    an InitPlan, once per statement, where the plain call is computed once per row wherever the
    comparison is not an index condition (docs/benchmarks.md, "The policies' two forms")."""
    rows = conn_to(migrated_db).execute(TENANT_POLICIES).fetchall()
    assert len(rows) == 18
    for table, using, check in rows:
        want = f"({tenant_column(table)} = ( SELECT app.verified_tenant() AS verified_tenant))"
        assert (using, check) == (want, want), table


def test_a_policy_changed_to_the_plain_call_on_plain_postgresql_is_drift(migrated_db, conn_to, project, tmp_path):
    """drift compares a snapshot without Citus with a Citus database in Citus' form only: between two
    plain servers the form is part of the schema."""
    path = tmp_path / "snapshot.yaml"
    snapshots.write(snapshots.take(migrated_db, project), path)
    with conn_to(migrated_db).transaction():
        conn_to(migrated_db).execute("""SET LOCAL ROLE maplatform_owner;
            ALTER POLICY tenant_isolation ON public.deals USING (tenant_id = app.verified_tenant())""")
    assert changes(migrated_db, project, path) == [
        ("changed", "policy", "public.deals.tenant_isolation", {"using": "(tenant_id = app.verified_tenant())"})]


def test_on_plain_postgresql_0038_leaves_the_hypertables_and_adds_no_partition_job(migrated_db, conn_to):
    c = conn_to(migrated_db)
    assert c.execute("""SELECT hypertable_schema || '.' || hypertable_name FROM timescaledb_information.hypertables
                        ORDER BY 1""").fetchall() == [("audit.events",), ("timeline.activity_timeline",)]
    assert c.execute("SELECT count(*) FROM ops.cron_jobs WHERE jobname LIKE '%partitions'").fetchone()[0] == 0
    assert c.execute("SELECT to_regprocedure('ops.create_activity_timeline_partitions()'), "
                     "to_regprocedure('audit.create_event_partitions()')").fetchone() == (None, None)


# ----- on a Citus cluster ------------------------------------------------------------------------


@needs_citus
def test_migrate_from_empty_through_the_coordinator_needs_no_manual_step(citus_cluster, citus_migrated, project):
    url, result = citus_migrated
    assert [a["id"] for a in result.applied][-1] == status(url, project).migrations[-1].id
    said = "\n".join(result.citus)
    assert "session_preload_libraries of this database: vector" in said
    assert f"{OWNER} may log in on worker(s)" in said
    # The coordinator keeps 0016's CONNECTION LIMIT 0 (no client logs in as the owner); the workers
    # accept the coordinator's connections as the owner, which Citus runs the owner's DDL over.
    assert owner_limits(citus_cluster, url) == [(True, 0), (True, -1), (True, -1)]
    node = citus.node(psycopg.connect(url, autocommit=True))
    assert node.role == "coordinator" and len(node.workers) == 2


@needs_citus
def test_the_owners_of_definer_functions_and_materialized_views_log_in_on_the_workers_only(citus_cluster,
                                                                                          citus_migrated):
    """A SECURITY DEFINER function runs as its owner and REFRESH as the view's owner: Citus opens the
    workers' connections as them (`role "maplatform_maintenance" is not permitted to log in` when the
    refresh read a distributed table). On the coordinator, where clients connect, they stay NOLOGIN."""
    url, result = citus_migrated
    for role in ("maplatform_maintenance", "maplatform_audit_owner"):
        said = [line for line in result.citus if line.startswith(f"{role} may log in on worker(s) ")]
        assert len(said) == 1 and said[0].endswith(f" (Citus connects as {role} for its functions and materialized "
                                                   "views)"), result.citus
        assert all(f"127.0.0.1:{port}" in said[0] for port in citus_cluster.ports[1:]), said
        assert owner_limits(citus_cluster, url, role) == [(False, -1), (True, -1), (True, -1)]
    for role in ("maplatform_app", "maplatform_readonly", "maplatform_ops", "maplatform_auditor"):  # own nothing
        assert [login for login, _ in owner_limits(citus_cluster, url, role)] == [False, False, False], role


@needs_citus
def test_only_the_projects_roles_and_the_configured_ones_get_a_worker_login(citus_cluster, tmp_project):
    """A role outside the project's roles that owns a SECURITY DEFINER function gets nothing;
    [tool.dbtool.citus] worker_logins adds a role that owns nothing (the application role, for a
    pooler whose sessions SET ROLE to it)."""
    url = citus_cluster.database()
    dbname = url.rsplit("/", 1)[1]
    citus_cluster.sql(0, dbname, """DROP ROLE IF EXISTS stranger_definer, pooled_app, kept_definer;
        CREATE ROLE stranger_definer NOLOGIN; CREATE ROLE pooled_app NOLOGIN; CREATE ROLE kept_definer NOLOGIN;
        CREATE FUNCTION public.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
        ALTER FUNCTION public.f() OWNER TO stranger_definer;
        CREATE FUNCTION public.g() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
        ALTER FUNCTION public.g() OWNER TO kept_definer""")
    tmp_project.write("pyproject.toml", '[tool.dbtool]\ndatabase = "x"\nroles = ["kept_definer", "pooled_app"]\n'
                                        '[tool.dbtool.citus]\nworker_logins = ["pooled_app"]\n')
    try:
        with psycopg.connect(url, autocommit=True) as c:
            said = citus.prepare(c, tmp_project.load())
        given = [line.split(" may log in")[0] for line in said if " may log in" in line]
        assert "kept_definer" in given and "pooled_app" in given and "stranger_definer" not in given, said
        for role, login in (("stranger_definer", False), ("kept_definer", True), ("pooled_app", True)):
            assert [r for r, _ in owner_limits(citus_cluster, url, role)] == [False, login, login], role
    finally:
        citus_cluster.sql(0, dbname, "DROP FUNCTION public.f(), public.g(); DROP ROLE stranger_definer, pooled_app, "
                                     "kept_definer")


@needs_citus
def test_drift_is_clean_after_migrating_through_the_coordinator(citus_migrated, project):
    url, _ = citus_migrated
    report = drift(url, project)
    assert report.against.endswith("snapshot.citus.yaml")
    assert report.changes == []


@needs_citus
def test_the_committed_citus_snapshot_is_the_schema_migrated_through_the_coordinator(citus_migrated, project):
    """Distribution included (kind citus_table): drift on a coordinator compares it."""
    url, _ = citus_migrated
    live = snapshots.take(url, project)
    path = snapshots.snapshot_file(project, live.edition, citus=True)
    if not path.is_file():
        pytest.fail(f"{path.relative_to(project.root)} is missing: run {snapshots.make_command(live.edition, True)} "
                    "and commit it")
    committed = snapshots.read_file(path)
    assert (committed.version, committed.edition, committed.citus) == (live.version, live.edition, True)
    changes = catalog.diff(committed.data, live.data)
    assert not changes, (f"{path.relative_to(project.root)} is stale: run {snapshots.make_command(live.edition, True)}"
                         " and commit it. Differences:\n"
                         + "\n".join(f"{c.action} {c.kind} {c.name}" for c in changes[:30]))
    assert live.data["citus_table"]["public.deals"]["distribution_column"] == "tenant_id"


def test_check_rls_finds_nothing_on_a_coordinator_at_head(citus_migrated, project):
    """0040 opens the private timeline and audit trail to the tenant-facing roles under row-level
    security: no finding, the tenant tables checked as on one server."""
    from dbtool.commands.check_rls import run_audit
    url, _ = citus_migrated
    audit = run_audit(url, project)
    assert [(f.rule, f.object, f.problem) for f in audit.findings] == [] and audit.tables_checked >= 18


def test_drift_after_migrating_through_the_coordinator_is_only_what_citus_has_of_its_own(citus_migrated, project):
    url, _ = citus_migrated
    assert citus_drift(url, project) == ONLY_ON_CITUS_AT_HEAD


@needs_citus
def test_a_second_database_on_the_cluster_migrates_although_the_roles_exist(citus_cluster, citus_migrated, project):
    """Citus records propagated roles per database: in the second one the roles exist but are not
    recorded, and the owner's first grant made Citus re-create them as the owner (42501)."""
    url = citus_cluster.database()
    result = migrate(url, project)
    assert any(line.startswith("role(s) maplatform_app, ") for line in result.citus), result.citus
    assert citus_drift(url, project) == ONLY_ON_CITUS_AT_HEAD


@needs_citus
def test_the_owner_role_is_given_back_its_worker_login_when_a_dba_took_it(citus_cluster, citus_migrated, project):
    url, _ = citus_migrated
    dbname = url.rsplit("/", 1)[1]
    citus_cluster.sql(1, dbname, f"SET citus.enable_ddl_propagation = off; ALTER ROLE {OWNER} CONNECTION LIMIT 0")
    checks = {c.name: c for c in doctor(url, project)}
    line = checks[f"citus {OWNER} on workers"]
    assert line.status == "missing" and f"127.0.0.1:{citus_cluster.ports[1]}" in line.value, line
    assert "enable_ddl_propagation = off" in line.fix
    with psycopg.connect(url, autocommit=True) as c:
        assert citus.prepare(c, project) == [f"{OWNER} may log in on worker(s) 127.0.0.1:{citus_cluster.ports[1]} "
                                             "(Citus runs the owner's DDL there)"]
    assert owner_limits(citus_cluster, url) == [(True, 0), (True, -1), (True, -1)]


@needs_citus
def test_deleting_a_user_clears_its_references_on_the_shards_and_no_other_tenants(citus_migrated):
    """0031's trigger on a distributed users table runs on the user's shard, on a worker, and its UPDATE
    of the co-located activities, activities_archive and tasks shards runs there too: without
    citus.allow_nested_distributed_execution, as the maintenance role (no login needed on the workers),
    for one tenant's user and for a statement over several shards, the tables distributed by 0039 (the
    timeline's references too, 0039 having made its keys NO ACTION). Rolled back."""
    url, _ = citus_migrated
    a, b, user = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()  # the same user id in both tenants
    with psycopg.connect(url) as c, c.transaction(force_rollback=True):
        for t in (a, b):
            c.execute("INSERT INTO public.tenants (id, subdomain, company_name) VALUES (%s, %s, 'x')", [t, f"t{t.hex[:8]}"])
            c.execute("INSERT INTO public.users (id, tenant_id, email, clerk_id) VALUES (%s, %s, 'u@x', %s)",
                      [user, t, t.hex])
            c.execute("INSERT INTO public.activities (tenant_id, user_id, type, title) VALUES (%s, %s, 'note', 'x')",
                      [t, user])
            c.execute("""INSERT INTO public.activities_archive (id, tenant_id, user_id, type, title)
                         VALUES (gen_random_uuid(), %s, %s, 'note', 'x')""", [t, user])
            c.execute("INSERT INTO public.tasks (tenant_id, title, assigned_to) VALUES (%s, 'x', %s)", [t, user])

        def references(tenant) -> list:
            return [c.execute(f"SELECT {column} FROM {table} WHERE tenant_id = %s", [tenant]).fetchone()[0]
                    for table, column in [("public.activities", "user_id"), ("public.activities_archive", "user_id"),
                                          ("public.tasks", "assigned_to")]]
        assert c.execute("DELETE FROM public.users WHERE tenant_id = %s AND id = %s", [a, user]).rowcount == 1
        assert references(a) == [None] * 3 and references(b) == [user] * 3
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # the key still refuses a dangling reference
            with c.transaction():
                c.execute("INSERT INTO public.tasks (tenant_id, title, assigned_to) VALUES (%s, 'x', %s)", [a, user])
        c.execute("INSERT INTO public.users (id, tenant_id, email, clerk_id) VALUES (%s, %s, 'u@x', 'again')", [user, a])
        c.execute("UPDATE public.tasks SET assigned_to = %s WHERE tenant_id = %s", [user, a])
        assert c.execute("DELETE FROM public.users WHERE id = %s", [user]).rowcount == 2  # both tenants' shards
        assert references(a) == references(b) == [None] * 3
        assert c.execute("SELECT proconfig FROM pg_proc WHERE oid = 'ops.set_null_on_delete()'::regprocedure"
                         ).fetchone()[0] == ["search_path=pg_catalog, pg_temp"]


@needs_citus
def test_doctor_reads_the_cluster_on_the_coordinator(citus_cluster, citus_migrated, project):
    url, _ = citus_migrated
    checks = {c.name: c for c in doctor(url, project) if c.name.startswith("citus")}
    assert {n: c.status for n, c in checks.items()} == {
        "citus node": "ok", "citus preload": "ok", "citus connectivity": "ok",
        "citus session_preload_libraries": "ok", f"citus {OWNER} on workers": "ok",
        "citus maplatform_audit_owner on workers": "ok", "citus maplatform_maintenance on workers": "ok",
        "citus worker pg_hba": "warn",
        "citus statement texts on workers": "ok", "citus function grants on workers": "ok"}
    workers = ", ".join(f"127.0.0.1:{p}" for p in citus_cluster.ports[1:])
    assert checks["citus node"].value.endswith(f"coordinator, 2 worker(s): {workers}")


@needs_citus
def test_doctor_warns_of_a_worker_that_trusts_the_worker_logins_over_tcp(citus_cluster, citus_migrated, project):
    """The roles that log in on the workers for Citus have no password; the test cluster's pg_hba.conf
    trusts every loopback connection (initdb's default), so anyone reaching a worker's port is them."""
    url, _ = citus_migrated
    line = {c.name: c for c in doctor(url, project)}["citus worker pg_hba"]
    assert line.value.startswith(f"trust over TCP for {OWNER}, maplatform_audit_owner, maplatform_maintenance on "
                                 "127.0.0.1:"), line.value
    assert all(f"127.0.0.1:{port} (line " in line.value for port in citus_cluster.ports[1:]), line.value
    assert "host all all 127.0.0.1" in line.value and "replication" not in line.value
    assert line.fix.startswith("on each worker's pg_hba.conf, before any line that matches them: hostssl <db> "
                               f"{OWNER},maplatform_audit_owner,maplatform_maintenance <coordinator address>/32 cert")


@needs_citus
@pytest.mark.parametrize("command", [["migrate"], ["rollback", "--yes"], ["repair", "--accept", "0001"],
                                     ["baseline", "--to", "0001"], ["seed", "--small"], ["status"]])
def test_a_worker_is_refused_naming_the_coordinator_and_nothing_is_written(citus_cluster, citus_migrated, command):
    url, _ = citus_migrated
    dbname = url.rsplit("/", 1)[1]
    worker = citus_cluster.url(dbname, node=1)
    before = citus_cluster.sql(1, dbname, "SELECT count(*) FROM pg_class")
    res = run(*command, "--database-url", worker)
    assert res.exit_code == 2, res.output
    coordinator = f"127.0.0.1:{citus_cluster.ports[0]}"
    assert f"this server is a Citus worker (group 1) of the cluster whose coordinator is {coordinator}" in res.output
    assert f"point DATABASE_URL at the coordinator ({coordinator})" in res.output
    assert "Traceback" not in res.output
    assert citus_cluster.sql(1, dbname, "SELECT count(*) FROM pg_class") == before


@needs_citus
def test_doctor_on_a_worker_says_so_and_names_the_coordinator(citus_cluster, citus_migrated, project):
    url, _ = citus_migrated
    worker = citus_cluster.url(url.rsplit("/", 1)[1], node=2)
    line = {c.name: c for c in doctor(worker, project)}["citus node"]
    assert line.status == "missing" and line.value.endswith("worker (group 2)")
    assert line.fix == f"run dbtool against the coordinator (127.0.0.1:{citus_cluster.ports[0]})"


@needs_citus
def test_the_snapshot_records_each_tables_distribution_and_no_shard(distributed, dist_project):
    url, path = distributed
    assert snapshots.read_file(path).data["citus_table"] == {"public.a": A_AND_B, "public.b": A_AND_B,
                                                             "public.kinds": {"type": "reference"}}
    assert "_10" not in path.read_text()  # no shard (public.a_102008) nor its id, under any kind
    assert drift(url, dist_project, against=path).changes == []


@needs_citus
def test_distributing_adds_only_citus_table_entries_citus_own_objects_are_not_drift(citus_cluster, dist_project):
    """Shards on the coordinator (the reference table's placement), their constraints and indexes,
    Citus' truncate triggers and its schemas: none shows under another kind."""
    url = citus_cluster.database()
    migrate(url, dist_project, to="0001_create_tables")
    before = snapshots.take(url, dist_project).data
    migrate(url, dist_project)
    assert [(c.action, c.kind, c.name) for c in catalog.diff(before, snapshots.take(url, dist_project).data)] == [
        ("added", "citus_table", "public.a"), ("added", "citus_table", "public.b"),
        ("added", "citus_table", "public.kinds")]


@needs_citus
def test_undistributing_a_table_is_drift_on_that_table(citus_cluster, distributed, dist_project):
    url, path = distributed
    citus_cluster.sql(0, url.rsplit("/", 1)[1], "SELECT undistribute_table('public.b')")
    assert changes(url, dist_project, path) == [("removed", "citus_table", "public.b", None)]


@needs_citus
def test_another_shard_count_is_drift_on_each_colocated_table(citus_cluster, distributed, dist_project):
    url, path = distributed
    citus_cluster.sql(0, url.rsplit("/", 1)[1],
                      "SELECT alter_distributed_table('public.a', shard_count := 8, cascade_to_colocated := true)")
    report = drift(url, dist_project, against=path)
    assert [(c.action, c.kind, c.name, c.after) for c in report.changes] == [
        ("changed", "citus_table", "public.a", {"shard_count": 8}),
        ("changed", "citus_table", "public.b", {"shard_count": 8})]
    assert report.lines()[:4] == ["changed  citus_table  public.a", "    shard_count:", "      - 32", "      + 8"]


@needs_citus
def test_another_distribution_column_is_drift_on_that_table(citus_cluster, distributed, dist_project):
    """Citus keeps b in a's group (the same column type and shard count): only the column differs."""
    url, path = distributed
    citus_cluster.sql(0, url.rsplit("/", 1)[1], "SELECT alter_distributed_table('public.b', distribution_column := 'id')")
    assert changes(url, dist_project, path) == [("changed", "citus_table", "public.b", {"distribution_column": "id"})]


@needs_citus
def test_a_table_moved_out_of_its_colocation_group_is_drift_on_that_table(citus_cluster, distributed, dist_project):
    url, path = distributed
    citus_cluster.sql(0, url.rsplit("/", 1)[1], "SELECT update_distributed_table_colocation('public.b', 'none')")
    assert changes(url, dist_project, path) == [("changed", "citus_table", "public.b", {"colocation_group": "public.b"})]


@needs_citus
def test_a_distributed_table_turned_reference_is_drift_on_that_table(citus_cluster, distributed, dist_project):
    url, path = distributed
    dbname = url.rsplit("/", 1)[1]
    citus_cluster.sql(0, dbname, "SELECT undistribute_table('public.b'); SELECT create_reference_table('public.b')")
    assert changes(url, dist_project, path) == [("changed", "citus_table", "public.b", {
        "type": "reference", "method": None, "distribution_column": None, "shard_count": None, "colocation_group": None})]


@needs_citus
def test_docs_show_a_tables_distribution_on_its_page(distributed):
    _, path = distributed
    schema = model.build(snapshots.read_file(path).data)
    page = markdown.page(schema.relations["public.b"], schema)
    assert "## Citus" in page and "| distribution_column | `tenant_id` |" in page
    assert "| colocation_group | `public.a` |" in page and "| shard_count | `32` |" in page


# ----- the tenant context on distributed tables (0033, 0034) -------------------------------------

TENANT_A, TENANT_B = uuid.UUID(int=0xA), uuid.UUID(int=0xB)
KEY_SECRET = bytes(range(64, 96))
# Two small tables distributed by tenant and co-located, with row-level security forced under the
# policy the plan gives every tenant table (no sub-select: Citus refuses one), their shards on the
# workers; the token registry and its keys are 0039's reference tables.
TENANT_TABLES = """
SELECT app.add_tenant_key('ctx', %(secret)s);
CREATE TABLE public.ctx_deals (tenant_id uuid NOT NULL DEFAULT app.current_tenant_id(), id bigint NOT NULL,
                               name text NOT NULL, PRIMARY KEY (tenant_id, id));
CREATE TABLE public.ctx_notes (tenant_id uuid NOT NULL DEFAULT app.current_tenant_id(), id bigint NOT NULL,
                               deal_id bigint NOT NULL, body text, PRIMARY KEY (tenant_id, id),
                               FOREIGN KEY (tenant_id, deal_id) REFERENCES public.ctx_deals (tenant_id, id));
SELECT create_distributed_table('public.ctx_deals', 'tenant_id', shard_count => 4);
SELECT create_distributed_table('public.ctx_notes', 'tenant_id', colocate_with => 'public.ctx_deals');
INSERT INTO public.ctx_deals VALUES (%(a)s, 1, 'a-one'), (%(a)s, 2, 'a-two'), (%(b)s, 1, 'b-one');
INSERT INTO public.ctx_notes VALUES (%(a)s, 1, 1, 'a note'), (%(b)s, 1, 1, 'b note'), (%(b)s, 2, 1, 'b note 2');
ALTER TABLE public.ctx_deals ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE public.ctx_notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON public.ctx_deals
USING (tenant_id = app.verified_tenant()) WITH CHECK (tenant_id = app.verified_tenant());
CREATE POLICY tenant_isolation ON public.ctx_notes
USING (tenant_id = app.verified_tenant()) WITH CHECK (tenant_id = app.verified_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ctx_deals, public.ctx_notes TO maplatform_app;
"""


@dataclass
class TenantCluster:
    url: str
    dbname: str
    login: str  # a login in maplatform_app, as the application's would be (maplatform_app is NOLOGIN)
    token_a: str
    token_b: str

    def app(self, cluster: CitusCluster, **kwargs) -> psycopg.Connection:
        return psycopg.connect(f"postgresql://{self.login}@127.0.0.1:{cluster.ports[0]}/{self.dbname}", **kwargs)


@pytest.fixture(scope="module")
def tenants_on_workers(citus_cluster, project) -> TenantCluster:
    url = citus_cluster.database()
    migrate(url, project)
    dbname = url.rsplit("/", 1)[1]
    login = f"ctx_app_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"CREATE ROLE {login} LOGIN IN ROLE maplatform_app")  # Citus creates it on the workers
        for statement in TENANT_TABLES.split(";\n"):  # each in its own transaction: add_tenant_key writes
            if statement.strip():                       # the reference table as the owner, not as its creator
                c.execute(statement, {"secret": KEY_SECRET, "a": TENANT_A, "b": TENANT_B})
        tokens = [c.execute("SELECT app.mint_tenant_token(%s, '1 hour')", [t]).fetchone()[0]  # registered
                  for t in (TENANT_A, TENANT_B)]
        placed = {p for (p,) in c.execute("""SELECT DISTINCT nodeport FROM pg_dist_shard_placement
                                             JOIN pg_dist_shard USING (shardid)
                                             WHERE logicalrelid = 'public.ctx_deals'::regclass""")}
    assert placed == set(citus_cluster.ports[1:]), placed  # every shard on a worker, both workers used
    return TenantCluster(url, dbname, login, *tokens)


def rows_seen(c: psycopg.Connection) -> list[tuple]:
    return c.execute("SELECT tenant_id, name FROM public.ctx_deals ORDER BY name").fetchall()


@needs_citus
def test_a_tenant_token_set_in_a_transaction_reaches_the_workers_and_shows_only_its_tenant(
        citus_cluster, tenants_on_workers):
    t = tenants_on_workers
    with t.app(citus_cluster) as c:
        c.execute("SELECT public.set_tenant_context(%s)", [t.token_a])  # the transaction's first statement
        mine = rows_seen(c)
        joined = c.execute("""SELECT d.name, n.body FROM public.ctx_deals AS d JOIN public.ctx_notes AS n
                              ON n.tenant_id = d.tenant_id AND n.deal_id = d.id""").fetchall()
        asked_for_b = c.execute("SELECT count(*) FROM public.ctx_deals WHERE tenant_id = %s", [TENANT_B]).fetchone()[0]
        c.execute("INSERT INTO public.ctx_deals (id, name) VALUES (3, 'a-three')")  # tenant_id from the default
        try:
            with c.transaction():
                c.execute("INSERT INTO public.ctx_deals (tenant_id, id, name) VALUES (%s, 9, 'into b')", [TENANT_B])
            refused = None
        except psycopg.Error as exc:
            refused = exc
        after_insert = len(rows_seen(c))
        c.rollback()
        without_token = rows_seen(c)  # a new transaction: Citus keeps its worker connections, not the token
        c.rollback()
    assert mine == [(TENANT_A, "a-one"), (TENANT_A, "a-two")]
    assert joined == [("a-one", "a note")] and asked_for_b == 0 and after_insert == 3
    assert refused is not None and refused.sqlstate == "42501" and "row-level security" in str(refused)
    assert without_token == []


@needs_citus
def test_a_token_set_by_set_config_or_forged_reaches_no_tenant_on_the_workers(citus_cluster, tenants_on_workers):
    t = tenants_on_workers
    forged = t.token_a.replace(str(TENANT_A), str(TENANT_B))
    with t.app(citus_cluster) as c:
        c.execute("SELECT set_config('app.tenant_token', %s, true)", [t.token_a])  # what 0017 did: never sent on
        by_set_config = rows_seen(c)
        c.rollback()
        c.execute("SET LOCAL citus.propagate_set_commands = local")
        c.execute(f"SET LOCAL app.tenant_token = '{forged}'")  # sent to the workers, registered nowhere
        by_forgery = rows_seen(c)
        c.rollback()
    assert by_set_config == [] and by_forgery == []


@needs_citus
def test_a_session_wide_tenant_context_is_refused_on_a_citus_coordinator(citus_cluster, tenants_on_workers):
    t = tenants_on_workers
    with t.app(citus_cluster, autocommit=True) as c:
        for call in ("SELECT public.set_tenant_context_for_session(%s)", "SELECT app.use_tenant_token(%s, false)"):
            with pytest.raises(psycopg.errors.FeatureNotSupported) as caught:
                c.execute(call, [t.token_a])
            assert "session-wide tenant context does not reach the Citus workers" in str(caught.value)
            assert "set_tenant_context(token) in each transaction" in caught.value.diag.message_hint
        assert c.execute("SELECT coalesce(current_setting('app.tenant_token', true), '')").fetchone()[0] == ""


@needs_citus
def test_a_token_registered_once_is_one_event_while_the_registry_is_a_reference_table(
        citus_cluster, tenants_on_workers):
    """A trigger on the reference table fired on every placement (and failed on the workers, which
    have no audit.events); the functions that register record it once, on the coordinator."""
    t = tenants_on_workers
    minted_for, used_for = uuid.uuid4(), uuid.uuid4()
    registered = "SELECT count(*) FROM audit.events WHERE event_type = 'tenant_context_registered' AND tenant_id = %s"
    with psycopg.connect(t.url, autocommit=True) as admin:
        admin.execute("SELECT app.mint_tenant_token(%s, '5 minutes')", [minted_for])
        token = tenant_token.mint(KEY_SECRET, "ctx", used_for, ttl=600)
        with t.app(citus_cluster, autocommit=True) as c:
            c.execute("SELECT public.set_tenant_context(%s)", [token])  # registers it, in a transaction of its own
            with c.transaction():
                c.execute("SELECT public.set_tenant_context(%s)", [token])
        events = [admin.execute(registered, [x]).fetchone()[0] for x in (minted_for, used_for)]
    placements = [citus_cluster.sql(n, t.dbname, "SELECT count(*) FROM app.tenant_tokens WHERE tenant_id = %s",
                                    [used_for])[0][0] for n in range(3)]
    assert events == [1, 1] and placements == [1, 1, 1]


@needs_citus
def test_a_token_first_registered_inside_a_transaction_reaches_the_workers_only_once_committed(
        citus_cluster, tenants_on_workers):
    """The registration is written over the owner's connections (use_tenant_token is the owner's), the
    shards are read over the login's, in other worker transactions: until it commits, the workers
    find no such token and show nothing (fail closed). Registered first, in a statement of its own,
    the token works in every later transaction (docs/citus.md)."""
    t = tenants_on_workers
    token = tenant_token.mint(KEY_SECRET, "ctx", TENANT_A, ttl=600)
    with t.app(citus_cluster) as c:
        tenant = c.execute("SELECT public.set_tenant_context(%s)", [token]).fetchone()[0]
        first = rows_seen(c)
        c.rollback()  # the registration with it
        c.autocommit = True
        c.execute("SELECT public.set_tenant_context(%s)", [token])  # registered and committed
        c.autocommit = False
        c.execute("SELECT public.set_tenant_context(%s)", [token])
        then = rows_seen(c)
        c.rollback()
    assert tenant == TENANT_A and first == [] and [n for _, n in then] == ["a-one", "a-two"]


@needs_citus
def test_another_sessions_token_is_not_readable_on_the_workers(citus_cluster, tenants_on_workers):
    """Citus sends the token's SET LOCAL to the workers as a statement of the application's login, and
    any role reaches the workers through run_command_on_workers: a session of the same login, serving
    tenant A, must find tenant B's token in no statement text there (pg_stat_activity, the backend
    activity functions, pg_stat_statements), nor the statistics keep it anywhere."""
    t = tenants_on_workers
    secret = t.token_b.rsplit(".", 1)[1]
    victim, attacker = t.app(citus_cluster), t.app(citus_cluster)
    try:
        assert rows_seen(victim) == []  # Citus opens its worker connections, then sends them the token's SET:
        victim.execute("SELECT public.set_tenant_context(%s)", [t.token_b])  # their last statement, idle in transaction
        attacker.execute("SELECT public.set_tenant_context(%s)", [t.token_a])
        found = []
        for probe in ("SELECT string_agg(query, ' ') FROM pg_stat_activity",
                      "SELECT string_agg(pg_stat_get_backend_activity(i), ' ') FROM pg_stat_get_backend_idset() AS i",
                      "SELECT string_agg(query, ' ') FROM pg_stat_statements"):
            with attacker.transaction():
                found += [r for (r,) in attacker.execute("SELECT result FROM run_command_on_workers(%s)", [probe])]
        served = len(rows_seen(victim))
    finally:
        victim.close()
        attacker.close()
    assert served == 1 and not [r for r in found if r and secret in r], found
    kept = [citus_cluster.sql(n, t.dbname, "SELECT count(*) FROM pg_stat_statements WHERE strpos(query, %s) > 0",
                              [secret])[0][0] for n in range(3)]
    assert kept == [0, 0, 0]


@needs_citus
def test_a_worker_that_shows_other_sessions_statements_gets_the_coordinators_grants(citus_cluster, project):
    url = citus_cluster.database()
    migrate(url, project)
    dbname = url.rsplit("/", 1)[1]
    citus_cluster.sql(1, dbname, "SET citus.enable_ddl_propagation = off; GRANT SELECT ON pg_stat_activity TO PUBLIC; "
                                 "REVOKE EXECUTE ON FUNCTION pg_stat_statements(boolean) FROM maplatform_ops")
    worker = f"127.0.0.1:{citus_cluster.ports[1]}"
    line = {c.name: c for c in doctor(url, project)}["citus statement texts on workers"]
    assert line.status == "missing" and line.value.startswith(f"other sessions' statements are shown on {worker} ")
    with psycopg.connect(url, autocommit=True) as c:
        assert citus.prepare(c, project) == [f"other sessions' statements hidden on worker(s) {worker} as on the "
                                             "coordinator (grants on pg_stat_activity, pg_stat_statements)"]
    assert citus_cluster.sql(1, dbname, "SELECT has_table_privilege('public', 'pg_stat_activity', 'SELECT'), "
                                        "has_function_privilege('maplatform_ops', 'pg_stat_statements(boolean)', "
                                        "'EXECUTE')") == [(False, True)]
    assert {c.name: c.status for c in doctor(url, project)}["citus statement texts on workers"] == "ok"


# ----- dbtool dev up --citus ---------------------------------------------------------------------


def test_dev_up_citus_without_citus_installed_says_so_and_makes_nothing(dev_home, monkeypatch):
    monkeypatch.delenv("PG_BINDIR", raising=False)  # Debian's PostgreSQL, which has no Citus package
    if (cluster.find_bindir().parent / "lib" / "citus.so").exists():
        pytest.skip("the default PostgreSQL has Citus")
    with pytest.raises(DbtoolError) as caught:
        dev.up(config.load(ROOT), base=dev_home, citus=True)
    assert caught.value.message == f"Citus is not installed in the PostgreSQL of {cluster.find_bindir()}"
    assert "PG_BINDIR" in caught.value.hint
    assert not (dev_home / "dev" / "server").exists()


@needs_citus
def test_dev_up_citus_makes_a_coordinator_and_two_workers_that_migrate_with_no_other_step(dev_home, monkeypatch, project):
    monkeypatch.setenv("PG_BINDIR", CITUS_BINDIR)
    d = dev.up(project, base=dev_home, citus=True)
    assert len(d.workers) == 2
    res = migrate(d.url, project)
    assert res.applied and res.cron["scheduled"]
    with psycopg.connect(d.url, autocommit=True) as c:
        node = citus.node(c)
        assert node.role == "coordinator" and node.workers == tuple(f"{d.socket_dir}:{p}" for p in d.workers)
    assert citus_drift(d.url, project) == ONLY_ON_CITUS_AT_HEAD
    assert oct(d.socket_dir.stat().st_mode & 0o777) == "0o700"
    with psycopg.connect(d.url, autocommit=True) as c:
        node_ids = [n for (n,) in c.execute("SELECT nodeid FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeid")]
    with pytest.raises(psycopg.OperationalError):  # over TCP the workers want the password, as the coordinator
        psycopg.connect(f"postgresql://maplatform_owner@127.0.0.1:{d.workers[0]}/{d.database}?passfile=/dev/null")
    dev.down(project, base=dev_home)
    assert not any(cluster.is_running(datadir) for datadir, _ in d.nodes())
    with socket.socket() as busy:  # the first worker's port taken meanwhile: it comes back on another
        busy.bind(("127.0.0.1", d.workers[0]))
        busy.listen()
        again = dev.up(project, base=dev_home)  # a stopped Citus dev cluster comes back as it was
    assert again.citus and again.workers[0] != d.workers[0] and again.workers[1] == d.workers[1]
    assert status(again.url, project).migrations[-1].state == "applied"
    with psycopg.connect(again.url, autocommit=True) as c:  # the node was moved, not removed and added
        assert c.execute("SELECT nodeid, nodeport FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeid").fetchall() \
            == [(node_ids[0], again.workers[0]), (node_ids[1], again.workers[1])]


@needs_citus
def test_after_migrate_on_a_coordinator_every_tenant_policy_has_the_plain_call_citus_accepts(citus_migrated):
    url, _ = citus_migrated
    with psycopg.connect(url) as c:
        rows = c.execute(TENANT_POLICIES).fetchall()
    assert len(rows) == 18
    for table, using, check in rows:
        want = f"({tenant_column(table)} = app.verified_tenant())"
        assert (using, check) == (want, want), table


@needs_citus
def test_drift_against_the_schema_built_without_citus_expects_the_policies_in_citus_form(citus_migrated, project):
    """--against-migrations builds the expected schema on this machine's PostgreSQL, without Citus: its
    policies have the sub-select, which drift compares in the only form Citus accepts; what remains
    is what 0038 makes differently on a coordinator, as against the committed snapshot."""
    url, _ = citus_migrated
    report = drift(url, project, against_migrations=True)
    assert sorted((c.action, c.kind, c.name) for c in report.changes) == ONLY_ON_CITUS_AT_HEAD, report.lines()


@pytest.fixture(scope="module")
def citus_policy_db(citus_cluster, project):
    """A database migrated from empty through the coordinator, for the tests that change it."""
    url = citus_cluster.database()
    migrate(url, project, sync_cron=False)
    return url


def before(project, mid_prefix: str) -> str:
    ids = [m.id for m in read_migrations(project.migrations_dir, project.root)]
    return ids[[i for i, m in enumerate(ids) if m.startswith(mid_prefix)][0] - 1]


@needs_citus
def test_0037_gives_the_policies_an_earlier_run_left_the_plain_call_before_the_files_run_again(citus_policy_db,
                                                                                               project):
    """migrate re-applies changed policy files only after the last migration, so the migration that
    distributes the tables would meet the policies as an earlier run of the files left them: with
    the sub-select (which 0037's rollback puts back). 0037 converts them in place."""
    url = citus_policy_db
    rollback(url, project, to=before(project, "0037"), sync_cron=False)
    with psycopg.connect(url) as c:
        left = c.execute(TENANT_POLICIES).fetchall()
    assert {(u, w) for _, u, w in left} == {(f"({col} = ( SELECT app.verified_tenant() AS verified_tenant))",) * 2
                                            for col in ("id", "tenant_id")}
    result = migrate(url, project, sync_cron=False)
    assert result.applied[0]["id"].startswith("0037") and result.repeatables == []  # 0037 did it, not the files
    with psycopg.connect(url) as c:
        assert [(t, u, w) for t, u, w in c.execute(TENANT_POLICIES)] == [
            (t, f"({tenant_column(t)} = app.verified_tenant())", f"({tenant_column(t)} = app.verified_tenant())")
            for t, _, _ in left]


PROBE = "public.policy_probe"


@needs_citus
def test_a_table_distributed_with_a_policy_files_text_shows_and_takes_each_tenants_rows_only(citus_cluster,
                                                                                             tenants_on_workers):
    """A tenant table distributed by tenant_id, its policy created after distribution by the text of a
    policy file (as migrate re-applies the files once the tables are distributed): Citus refuses the
    sub-select the files give on PostgreSQL, accepts what they give on a coordinator, every shard has
    it, and through the coordinator each tenant reads and writes its own rows only (the token registry
    a reference table, as in the context tests above)."""
    t = tenants_on_workers
    with psycopg.connect(t.url, autocommit=True) as c:
        c.execute(f"""CREATE TABLE {PROBE} (tenant_id uuid NOT NULL, id int NOT NULL, PRIMARY KEY (tenant_id, id));
                      ALTER TABLE {PROBE} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
                      ALTER TABLE {PROBE} OWNER TO {OWNER};
                      GRANT SELECT, INSERT ON {PROBE} TO maplatform_app""")
        c.execute(f"INSERT INTO {PROBE} SELECT t, g FROM unnest(%s::uuid[]) AS t, generate_series(1, 3) AS g",
                  [[TENANT_A, TENANT_B]])
        c.execute(f"CREATE POLICY tenant_isolation ON {PROBE} USING (tenant_id = (SELECT app.verified_tenant()))")
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="cannot create policy"):
            c.execute(f"SELECT create_distributed_table('{PROBE}', 'tenant_id')")
        c.execute(f"DROP POLICY tenant_isolation ON {PROBE}")
        c.execute(f"SELECT create_distributed_table('{PROBE}', 'tenant_id')")
        path = ROOT / "sql" / "policies" / "public.deals.tenant_isolation.sql"
        with c.transaction():  # one statement at a time, as dbtool runs a file
            for statement in migrations.split(path.read_text().replace("public.deals", PROBE), path, ROOT):
                c.execute(statement)
        shards = c.execute(f"""SELECT result FROM run_command_on_shards('{PROBE}',
                               $$SELECT pg_get_expr(polqual, polrelid) || ' / ' || pg_get_expr(polwithcheck, polrelid)
                                 FROM pg_policy WHERE polrelid = '%s'::regclass$$)""").fetchall()
    assert len(shards) == 32 and set(shards) == {("(tenant_id = app.verified_tenant()) / "
                                                  "(tenant_id = app.verified_tenant())",)}
    for mine, theirs, token in ((TENANT_A, TENANT_B, t.token_a), (TENANT_B, TENANT_A, t.token_b)):
        with t.app(citus_cluster) as c:
            c.execute("SELECT public.set_tenant_context(%s)", [token])
            assert c.execute(f"SELECT tenant_id, id FROM {PROBE} ORDER BY id").fetchall() == [
                (mine, 1), (mine, 2), (mine, 3)]
            assert c.execute(f"SELECT count(*) FROM {PROBE} WHERE tenant_id = %s", [theirs]).fetchone() == (0,)
            c.execute(f"INSERT INTO {PROBE} VALUES (%s, 4)", [mine])
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
                c.execute(f"INSERT INTO {PROBE} VALUES (%s, 5)", [theirs])
            c.rollback()
            assert c.execute(f"SELECT count(*) FROM {PROBE}").fetchone() == (0,)  # no token: nothing


# ----- review mends ------------------------------------------------------------------------------


def test_the_socket_folder_is_never_given_away_through_a_link(tmp_path):
    """The server's OS user owns the folder above the sockets and could put a link there: as root,
    a chown through it would hand any folder (/etc) to that user."""
    from dbtool import devcluster
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o755)
    before = target.stat()
    (tmp_path / "sockets").symlink_to(target)
    with pytest.raises(DbtoolError, match="is not a folder"):
        devcluster._socket_dir(tmp_path / "sockets")
    after = target.stat()
    assert (after.st_uid, after.st_mode) == (before.st_uid, before.st_mode)


@pytest.mark.parametrize("name", ["a,b", "it's", "with space"])
def test_a_socket_path_that_postgresql_conf_would_split_or_break_is_refused_before_anything_is_made(tmp_path, name):
    from dbtool import devcluster
    with pytest.raises(DbtoolError, match="has a comma, a quote, a backslash or a space"):
        devcluster._check_socket_path(tmp_path / name / "sockets")


@needs_citus
def test_preparing_keeps_every_preload_library_its_own_item(citus_cluster, tmp_project):
    """Two libraries written as one literal made every later session of the database fail."""
    url = citus_cluster.database()
    dbname = url.rsplit("/", 1)[1]
    citus_cluster.sql(0, dbname, f'ALTER DATABASE "{dbname}" SET session_preload_libraries = auto_explain')
    tmp_project.write("pyproject.toml", '[tool.dbtool]\ndatabase = "x"\n[tool.dbtool.citus]\n'
                                        'session_preload_libraries = ["vector"]\n')
    with psycopg.connect(url, autocommit=True) as c:
        assert citus.prepare(c, tmp_project.load()) == [
            "session_preload_libraries of this database: auto_explain, vector (every node)"]
    for node in range(3):  # a new session on each node loads both
        assert citus_cluster.sql(node, dbname, "SHOW session_preload_libraries") == [("auto_explain, vector",)]


@needs_citus
def test_recording_the_roles_leaves_nothing_behind_and_only_the_projects_roles(citus_cluster, project):
    citus_cluster.sql(0, "postgres", "DROP ROLE IF EXISTS dba_alice; CREATE ROLE dba_alice LOGIN")
    url = citus_cluster.database()
    dbname = url.rsplit("/", 1)[1]
    migrate(url, project)
    recorded = {r for (r,) in citus_cluster.sql(0, dbname, """SELECT pg_get_userbyid(objid) FROM pg_dist_object
                                                          WHERE classid = 'pg_authid'::regclass""")}
    assert "dba_alice" not in recorded and "maplatform_ops" in recorded
    for node in range(3):
        assert citus_cluster.sql(node, dbname, "SELECT count(*) FROM pg_namespace "
                                               "WHERE nspname = 'dbtool_citus_roles'") == [(0,)]


# ----- the tenant tables distributed (0039) ------------------------------------------------------

# The global tables 0039 makes reference tables (docs/citus.md).
REFERENCE_TABLES = {"public.tenants", "app.resource_types", "app_private.tenant_keys", "app.tenant_tokens"}
APP_SCHEMAS = ["public", "app", "app_private", "timeline", "audit"]


def citus_tables(citus_cluster: CitusCluster, url: str) -> dict[str, tuple]:
    """Every Citus table of the application's schemas: (type, distribution column, colocation id)."""
    rows = citus_cluster.sql(0, url.rsplit("/", 1)[1], """
        SELECT format('%%I.%%I', n.nspname, c.relname), t.citus_table_type, t.distribution_column, t.colocation_id
        FROM citus_tables AS t JOIN pg_class AS c ON c.oid = t.table_name
        JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = ANY (%s) AND NOT c.relispartition""",
                             [APP_SCHEMAS])
    return {name: (kind, column, group) for name, kind, column, group in rows}


def tables_with_a_tenant(citus_cluster: CitusCluster, url: str) -> set[str]:
    """The application's tables with a tenant_id column (not partitions, not TimescaleDB chunks)."""
    return {r[0] for r in citus_cluster.sql(0, url.rsplit("/", 1)[1], """
        SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY (%s)
          AND NOT EXISTS (SELECT FROM pg_inherits AS i WHERE i.inhrelid = c.oid)""", [APP_SCHEMAS])}


@needs_citus
def test_every_tenant_table_is_distributed_by_tenant_id_in_one_group_and_the_global_ones_are_reference_tables(
        citus_cluster, citus_migrated):
    url, _ = citus_migrated
    tables = citus_tables(citus_cluster, url)
    tenant_tables = tables_with_a_tenant(citus_cluster, url) - REFERENCE_TABLES
    assert {"public.deals", "public.documents", "public.presence", "timeline.activity_timeline",
            "audit.events"} <= tenant_tables
    assert {t: tables.get(t, ("local",))[:2] for t in tenant_tables} == {t: ("distributed", "tenant_id")
                                                                         for t in tenant_tables}
    assert len({tables[t][2] for t in tenant_tables}) == 1, "more than one co-location group"
    assert {t: v[0] for t, v in tables.items() if t not in tenant_tables} == dict.fromkeys(REFERENCE_TABLES,
                                                                                            "reference")


@needs_citus
def test_the_materialized_views_stay_on_the_coordinator_with_their_indexes_and_grants_and_refresh(
        citus_cluster, citus_migrated):
    """Distributing rebuilt nothing (a rebuilt table's views and materialized views lose their grants,
    comments and indexes): they are as the migrations made them, and their jobs refresh them, the
    maintenance role logging in on the workers to read the shards."""
    url, _ = citus_migrated
    dbname = url.rsplit("/", 1)[1]
    views = {r[0]: r[1:] for r in citus_cluster.sql(0, dbname, """
        SELECT c.oid::regclass::text, c.relacl::text[],
               (SELECT array_agg(i.indexrelid::regclass::text ORDER BY i.indexrelid::regclass::text) FROM pg_index AS i
                WHERE i.indrelid = c.oid),
               EXISTS (SELECT FROM pg_dist_partition AS p WHERE p.logicalrelid = c.oid)
        FROM pg_class AS c WHERE c.relkind = 'm' AND c.relnamespace::regnamespace::text = ANY (%s)""",
                                                        [APP_SCHEMAS])}
    assert views["pipeline_analytics"] == (["maplatform_maintenance=arwdDxt/maplatform_maintenance"],
                                           ["pipeline_analytics_stage_idx", "pipeline_analytics_tenant_id_stage_key"],
                                           False)
    assert views["timeline.daily_activity_summary"][1:] == (["timeline.daily_activity_summary_tenant_id_day_key"],
                                                            False)
    grants = citus_cluster.sql(0, dbname, "SELECT relacl::text[] FROM pg_class "
                                          "WHERE oid = 'public.tenant_pipeline_analytics'::regclass")[0][0]
    assert {"maplatform_app=r/maplatform_owner", "maplatform_readonly=r/maplatform_owner"} <= set(grants)
    with psycopg.connect(url, autocommit=True) as c:  # as pg_cron runs the jobs: as the owner of ops.cron_jobs
        with c.transaction():
            c.execute(f"SET LOCAL ROLE {OWNER}")
            c.execute("SELECT ops.refresh_pipeline_analytics()")
            c.execute("SELECT ops.refresh_daily_activity_summary()")


@needs_citus
def test_rolling_0039_back_gives_local_tables_with_every_grant_comment_and_index_of_before(citus_cluster, project):
    """undistribute_table rebuilds each table and re-creates the views over it: measured, the comments of
    the tables and columns, the owner's restricted grants on the audited tables, the materialized
    views' indexes and the tenant views' grants were lost; the rollback puts them back."""
    ids = snapshots.migration_ids(project)
    distributing = ids.index("0039_distribute_tenant_tables")
    url = citus_cluster.database()
    migrate(url, project, to=ids[distributing - 1], sync_cron=False)
    before = snapshots.take(url, project).data
    migrate(url, project, to=ids[distributing], sync_cron=False)
    assert citus_tables(citus_cluster, url)
    rollback(url, project, steps=1, sync_cron=False)
    assert citus_tables(citus_cluster, url) == {}
    assert [(c.action, c.kind, c.name) for c in catalog.diff(before, snapshots.take(url, project).data)] == []
    migrate(url, project, sync_cron=False)  # and forward again
    assert len({v[2] for v in citus_tables(citus_cluster, url).values() if v[0] == "distributed"}) == 1


@needs_citus
def test_a_seeded_database_migrates_to_head_through_the_coordinator_with_every_row(citus_cluster, project):
    """The demo data of `dbtool seed --small` (which needs 0018's private timeline) written before the
    Citus steps, then 0019 to head: every row of every table is still there, now in the shards."""
    url = citus_cluster.database()
    dbname = url.rsplit("/", 1)[1]
    migrate(url, project, to="0018_move_activity_timeline_private", sync_cron=False)
    res = run("seed", "--small", "--database-url", url)
    assert res.exit_code == 0, res.output
    count = ("SELECT string_agg(format('%%s=%%s', t, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c "
             "FROM %%s', t), false, true, '')))[1]), ' ' ORDER BY t) FROM unnest(%s::text[]) AS t")
    tables = sorted(tables_with_a_tenant(citus_cluster, url) | {"public.tenants"})
    before = citus_cluster.sql(0, dbname, count, [tables])[0][0]
    migrate(url, project, sync_cron=False)
    assert citus_cluster.sql(0, dbname, count, [tables])[0][0] == before
    assert "public.deals=120" in before and "timeline.activity_timeline=0" not in before
    assert {v[0] for v in citus_tables(citus_cluster, url).values()} == {"distributed", "reference"}


@needs_citus
def test_0039_refuses_a_coordinator_without_workers_and_leaves_nothing(citus_cluster, project):
    ids = snapshots.migration_ids(project)
    url = citus_cluster.database()
    dbname = url.rsplit("/", 1)[1]
    migrate(url, project, to=ids[ids.index("0039_distribute_tenant_tables") - 1], sync_cron=False)
    citus_cluster.sql(0, dbname, "SELECT citus_remove_node('127.0.0.1', %s)", [citus_cluster.ports[1]])
    citus_cluster.sql(0, dbname, "SELECT citus_remove_node('127.0.0.1', %s)", [citus_cluster.ports[2]])
    with pytest.raises(DbtoolError) as caught:
        migrate(url, project, sync_cron=False)
    assert "this Citus coordinator has no worker" in str(caught.value.message) + str(caught.value.detail)
    assert citus_tables(citus_cluster, url) == {}
    assert status(url, project).migrations[-1].state != "applied"


# ----- the application through the coordinator ---------------------------------------------------


@pytest.fixture(scope="module")
def citus_world(citus_cluster, project):
    """Two tenants seeded through the coordinator as tests/test_attacks.py seeds them (B's rows marked),
    and a login role in each tenant-facing role, as docs/roles.md has the DBA create them: Citus opens
    the workers' connections as the login (maplatform_app itself cannot log in anywhere)."""
    from test_attacks import build_world
    url = citus_cluster.database()
    migrate(url, project, sync_cron=False)
    world = build_world(url)
    logins = {"maplatform_app": f"citus_api_{os.getpid()}", "maplatform_readonly": f"citus_bi_{os.getpid()}"}
    for role, login in logins.items():
        citus_cluster.sql(0, url.rsplit("/", 1)[1], f'DROP ROLE IF EXISTS "{login}"; CREATE ROLE "{login}" LOGIN IN ROLE {role}')
    yield world, logins
    for login in logins.values():
        citus_cluster.sql(0, url.rsplit("/", 1)[1], f'DROP ROLE IF EXISTS "{login}"')


def _as_login_of_a(world, login: str, statements: list[tuple[str, list]]) -> list:
    """Each statement's rows (or its SQLSTATE) as `login` with tenant A's token, in one rolled-back
    transaction through the coordinator."""
    out = []
    with psycopg.connect(world.url, autocommit=True) as c, c.transaction(force_rollback=True):
        c.execute(f'SET LOCAL ROLE "{login}"')
        c.execute("SELECT public.set_tenant_context(%s)", [world.token_a])
        for statement, params in statements:
            try:
                with c.transaction():
                    cur = c.execute(statement, params)
                    out.append(cur.fetchall() if cur.description else cur.rowcount)
            except psycopg.Error as exc:
                out.append(exc.sqlstate)
    return out


def _counts_as_login(world, login: str, relations: list[str]) -> tuple[dict, dict]:
    """Tenant A's rows in each relation, as the superuser counts them in its table, and as `login` sees
    them through the coordinator with A's token."""
    from schema_support import base_table, tenant_column
    with psycopg.connect(world.url, autocommit=True) as c:
        expected = {}
        for r in relations:
            base = base_table(c, r)
            expected[r] = c.execute(f"SELECT count(*) FROM {base} WHERE {tenant_column(base)} = %s",
                                    [world.a["tenant"]]).fetchone()[0]
    counted = _as_login_of_a(world, login, [(f"SELECT count(*) FROM {r}", []) for r in relations])
    return expected, {r: rows if isinstance(rows, str) else rows[0][0] for r, rows in zip(relations, counted)}


@needs_citus
@pytest.mark.parametrize("role", ["maplatform_app", "maplatform_readonly"])
def test_a_login_of_the_role_sees_its_tenants_rows_in_every_table_through_the_coordinator(citus_world, role):
    """The tenant context reaches the workers: without it every query would see nothing, and the
    isolation tests below would pass for the wrong reason."""
    from schema_support import tenant_views
    world, logins = citus_world
    with psycopg.connect(world.url, autocommit=True) as c:
        views = set(tenant_views(c))
    expected, seen = _counts_as_login(world, logins[role], [r for r in world.relations if r not in views])
    assert all(expected.values()), expected
    assert seen == expected


@needs_citus
@pytest.mark.parametrize("role", ["maplatform_app", "maplatform_readonly"])
def test_a_login_of_the_role_reads_its_timeline_and_audit_events_through_their_views(citus_world, role):
    """Citus runs a view's query on the shards as the current role (citusdata/citus#1683): 0040 gives the
    two private tables row-level security and the roles the privileges their views gave."""
    world, logins = citus_world
    relations = ["public.activity_timeline", "public.audit_events", "timeline.activity_timeline", "audit.events"]
    expected, seen = _counts_as_login(world, logins[role], relations)
    assert all(expected.values()), expected
    assert seen == expected


@needs_citus
def test_the_application_writes_its_tenants_events_through_the_timeline_view_and_no_other_tenants(citus_world):
    """Citus does no DML through a view over a distributed table; 0040's INSTEAD OF INSERT trigger keeps
    the application's INSERTs, under the table's policy. UPDATE and DELETE go to the table itself."""
    from test_attacks import b_fingerprint
    world, logins = citus_world
    a, b = str(world.a["tenant"]), str(world.b["tenant"])
    with psycopg.connect(world.url, autocommit=True) as c:
        before = b_fingerprint(c, world)
    insert = "INSERT INTO public.activity_timeline (time, tenant_id, event_type) VALUES (now(), %s, 'x') RETURNING tenant_id"
    out = _as_login_of_a(world, logins["maplatform_app"], [
        ("INSERT INTO public.activity_timeline (time, event_type) VALUES (now(), 'x') RETURNING tenant_id", []),
        (insert, [a]),
        (insert, [b]),
        ("INSERT INTO timeline.activity_timeline (time, tenant_id, event_type) VALUES (now(), %s, 'x')", [b]),
        ("UPDATE timeline.activity_timeline SET event_type = 'seen' RETURNING tenant_id", []),
        ("UPDATE timeline.activity_timeline SET tenant_id = %s RETURNING tenant_id", [b]),
        ("DELETE FROM timeline.activity_timeline RETURNING tenant_id", []),
        ("UPDATE public.activity_timeline SET event_type = 'seen'", []),
    ])
    assert [[str(t) for t, in rows] for rows in out[:2]] == [[a], [a]]
    assert out[2:4] == ["42501", "42501"]  # the policy's WITH CHECK, on the shard
    assert out[4] and {str(t) for t, in out[4]} == {a}
    assert out[5] == "0A000"  # Citus moves no row to another tenant: "modifying the partition value ..."
    assert out[6] and {str(t) for t, in out[6]} == {a}
    assert out[7] == "0A000"  # Citus: "cannot modify views when the query contains citus tables"
    read_only = _as_login_of_a(world, logins["maplatform_readonly"], [
        ("INSERT INTO public.activity_timeline (time, event_type) VALUES (now(), 'x')", []),
        ("INSERT INTO timeline.activity_timeline (time, event_type) VALUES (now(), 'x')", []),
        ("INSERT INTO audit.events (time, tenant_id, event_type) VALUES (now(), %s, 'x')", [a]),
    ])
    assert read_only == ["42501", "42501", "42501"]
    with psycopg.connect(world.url, autocommit=True) as c:
        assert b_fingerprint(c, world) == before


@needs_citus
@pytest.mark.parametrize("step", ["0040_open_timeline_views_on_citus", "0042_touch_updated_at_once_on_citus"])
def test_rolling_a_step_after_0039_back_gives_the_catalog_of_before_on_a_coordinator(citus_cluster, project, step):
    """tests/test_schema_migrations.py checks every rollback on one server, where these steps do nothing."""
    ids = snapshots.migration_ids(project)
    url = citus_cluster.database()
    migrate(url, project, to=ids[ids.index(step) - 1], sync_cron=False)
    before = snapshots.take(url, project).data
    migrate(url, project, to=step, sync_cron=False)
    assert catalog.diff(before, snapshots.take(url, project).data), f"{step} changed nothing on the coordinator"
    rollback(url, project, to=ids[ids.index(step) - 1], sync_cron=False)
    assert [(c.action, c.kind, c.name) for c in catalog.diff(before, snapshots.take(url, project).data)] == []


@needs_citus
@pytest.mark.parametrize("role", ["maplatform_app", "maplatform_readonly"])
@pytest.mark.parametrize("with_token", [True, False], ids=["tenant A's token", "no token"])
def test_isolation_holds_through_the_coordinator(citus_world, role, with_token):
    """tests/test_attacks.py's sweep of every relation the role reaches, as a login of the role through
    the coordinator: no row of tenant B read, none written, with A's token or none."""
    from test_attacks import _attack_relations, b_fingerprint, print_report
    world, logins = citus_world
    with psycopg.connect(world.url, autocommit=True) as c:
        before = b_fingerprint(c, world)
        # Citus' own views (citus_tables, citus_shards, ...), readable by PUBLIC: they hold no tenant row,
        # and reading one as a login that may not read every schema makes Citus fail the transaction
        # (it asks the workers for the shards' sizes: "permission denied for schema app_private").
        citus_views = frozenset(r[0] for r in c.execute("""
            SELECT d.objid::regclass::text FROM pg_depend AS d JOIN pg_extension AS e ON e.oid = d.refobjid
            WHERE e.extname = 'citus' AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'"""))
    with psycopg.connect(world.url, autocommit=True) as c:
        c.prepare_threshold = None
        report, leaks = _attack_relations(c, world, logins[role], world.token_a if with_token else None,
                                          compare_as_superuser=False, leave_out=citus_views)
    with psycopg.connect(world.url, autocommit=True) as c:  # and nothing of it stayed
        after = b_fingerprint(c, world)
    print_report(f"{logins[role]} (in {role}) through the Citus coordinator", report)
    assert len(report) > 50, "the catalog offered suspiciously few relations"
    assert leaks == [], "\n".join(map(str, leaks))
    assert after == before


FUNCTION_CALL = re.compile(r"\bFROM\s+public\.\w+\(")
SHARD = re.compile(r"\b([a-z_]+)_([0-9]{6,})\b")


@needs_citus
def test_each_documented_tenant_query_runs_on_the_tenants_shard_only(citus_world):
    """bench/queries.py's tenant queries (docs/benchmarks.md): the hand-written forms, with the tenant in
    the WHERE clause, and the application's functions, called as the application's login with tenant A's
    token. Citus' planner never sees a policy's condition: each needs the tenant as a value
    (docs/citus.md). Every command Citus sends to a worker for them (citus.log_remote_commands, nested
    statements of the functions included) reads the shards of tenant A's one shard range, the same in
    every co-located table; the summary view reads the coordinator's materialized view, no shard.
    (auto_explain failed here on Citus' plans with bound parameters: "cache lookup failed for type".)"""
    from bench.queries import QUERIES
    world, logins = citus_world
    tenant = str(world.a["tenant"])
    with psycopg.connect(world.url, autocommit=True) as c:
        notices: list[str] = []
        c.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        vector = c.execute("SELECT array_fill(0.1::real, ARRAY[1536])::public.vector::text").fetchone()[0]
        shard_range = {shard: low for shard, low in c.execute("""
            SELECT s.shardid::text, s.shardminvalue FROM pg_dist_shard AS s JOIN pg_dist_partition AS p USING (logicalrelid)
            WHERE p.partmethod = 'h'""")}
        tenants_range = c.execute("""SELECT shardminvalue FROM pg_dist_shard
                                     WHERE shardid = get_shard_id_for_distribution_column('public.deals', %s::uuid)""",
                                  [tenant]).fetchone()[0]
        params = {"tenant": world.a["tenant"], "vector": vector}
        seen = {}
        for q in QUERIES:
            forms = [("hand-written", q.owner, None)]
            if FUNCTION_CALL.search(q.app):
                forms.append(("the application's function", q.app, logins["maplatform_app"]))
            for label, statement, login in forms:
                with c.transaction(force_rollback=True):
                    if login:
                        c.execute(f'SET LOCAL ROLE "{login}"')
                        c.execute("SELECT public.set_tenant_context(%s)", [world.token_a])
                    c.execute("SET LOCAL citus.log_remote_commands = on")
                    notices.clear()
                    c.execute(statement, params).fetchall()
                    sent = [n for n in notices if n.startswith("issuing ")]
                ranges = [shard_range[m.group(2)] for n in sent for m in SHARD.finditer(n) if m.group(2) in shard_range]
                seen[(q.key, label)] = ranges
    print("\n".join(f"{k}: {len(v)} shard(s) read, ranges {sorted(set(v))}" for k, v in seen.items()))
    for (key, label), ranges in seen.items():
        if key == "analytics":
            assert ranges == [], (key, label)  # the coordinator's materialized view
        else:
            assert ranges and set(ranges) == {tenants_range}, (key, label, ranges)



@needs_citus
def test_the_citus_benchmark_runs_each_documented_query_on_one_shard_as_the_application(citus_world):
    """bench/citus_nodes.py's Citus side (docs/citus.md, "Measured: a tenant's queries on three nodes
    against one"), as it runs there: a login of maplatform_app, tenant A's token from the benchmark's own
    signing key set with set_tenant_context in each transaction, each query in the form that names its
    tenant. Every one is router-planned (Task Count 1) where its plan is Citus' at the top, and reads one
    shard group, tenant A's (the functions' statements included); the summary view reads none."""
    from bench import citus_nodes
    from bench.queries import QUERIES
    from bench.sessions import Tenant, add_key
    world, logins = citus_world
    with psycopg.connect(world.url, autocommit=True) as c:
        add_key(c)
        vector = c.execute("SELECT array_fill(0.1::real, ARRAY[1536])::public.vector::text").fetchone()[0]
        tenants_range = c.execute("""SELECT shardminvalue::int FROM pg_dist_shard
                                     WHERE shardid = get_shard_id_for_distribution_column('public.deals', %s::uuid)""",
                                  [str(world.a["tenant"])]).fetchone()[0]
    shard_range = citus_nodes.citus_layout(world.url)["shard_range"]
    tenant = Tenant(str(world.a["tenant"]), vector)
    login_url = world.url.replace("postgres@", f'{logins["maplatform_app"]}@')
    seen = {}
    with psycopg.connect(login_url, autocommit=True, prepare_threshold=None) as app:
        for q in QUERIES:
            side = citus_nodes.TenantTransactions(app, citus_nodes.tenant_named(q), [tenant])
            side.prepare(0)
            groups = citus_nodes.shard_groups(side.remote_commands(), shard_range)
            seen[q.key] = (citus_nodes.task_count(side.explain()), groups, len(side.rows()))
    print(seen)
    for key, (tasks, groups, rows) in seen.items():
        if key == "analytics":
            assert (tasks, groups) == (None, set()) and rows > 0, (key, seen[key])
        else:
            assert tasks in (1, None) and groups == {tenants_range}, (key, seen[key])
    assert seen["dashboard"][0] == seen["closing"][0] == 1 and seen["dashboard"][2] > 0

# ----- the timeline and the audit trail as Citus time partitions (0038) --------------------------

PARTITIONING = "0038_partition_timeline_for_citus"
TABLES = ("timeline.activity_timeline", "audit.events")


def before_partitioning(project) -> str:
    ids = snapshots.migration_ids(project)
    return ids[ids.index(PARTITIONING) - 1]


def hypertables_with_rows(citus_cluster: CitusCluster, project) -> tuple[str, dict, dict, dict]:
    """A new database migrated through the coordinator to the migration before 0038, two tenants'
    rows in both hypertables (old ones too: B's timeline events 400 days back, A's trail entries 8
    years back), and its snapshot then: (url, a, b, snapshot)."""
    url = citus_cluster.database()
    migrate(url, project, to=before_partitioning(project))
    with psycopg.connect(url, autocommit=True) as c:
        a, b = seed_tenant(c, "part-a"), seed_tenant(c, "part-b")
        for who in (a, b):
            c.execute("""INSERT INTO timeline.activity_timeline (time, tenant_id, user_id, deal_id, event_type,
                                                                 value_impacted)
                         SELECT now() - g * INTERVAL '1 hour', %(t)s, %(u)s, %(d)s, 'deal_viewed', 1
                         FROM generate_series(1, 72) AS g""", {"t": who["tenant"], "u": who["user1"], "d": who["deal"]})
        c.execute("""INSERT INTO timeline.activity_timeline (time, tenant_id, event_type)
                     SELECT now() - INTERVAL '400 days' - g * INTERVAL '1 day', %s, 'login'
                     FROM generate_series(1, 3) AS g""", [b["tenant"]])
        c.execute("""INSERT INTO audit.events (time, tenant_id, event_type)
                     VALUES (now() - INTERVAL '8 years', %s, 'data_room_opened')""", [a["tenant"]])
    return url, a, b, snapshots.take(url, project).data


def rows(c: psycopg.Connection) -> dict[str, int]:
    return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


@pytest.fixture(scope="module")
def partitioned(citus_cluster, project):
    """hypertables_with_rows, then 0038 applied: (url, a, b, snapshot before, rows before)."""
    url, a, b, before = hypertables_with_rows(citus_cluster, project)
    with psycopg.connect(url, autocommit=True) as c:
        counted = rows(c)
    migrate(url, project, to=PARTITIONING)
    return url, a, b, before, counted


@pytest.fixture
def pconn(partitioned):
    with psycopg.connect(partitioned[0], autocommit=True) as c:
        yield c


@needs_citus
def test_0038_makes_both_tables_partitioned_by_time_and_changes_nothing_else_about_them(partitioned, pconn, project):
    """Columns, constraints, indexes, triggers, grants, RLS, owner, comments, the views and the
    materialized view on them: all as before, but the table's kind, its indexes' ON ONLY, TimescaleDB's
    insert blocker and hypertable entry, the retention functions' bodies and the partition jobs. The
    partitions themselves are not schema (drift leaves them out, as chunks), and no row is lost."""
    url, _, _, before, counted = partitioned
    changed = {(c.action, c.kind, c.name): c for c in catalog.diff(before, snapshots.take(url, project).data)}
    assert sorted(changed) == ONLY_ON_CITUS
    for table in TABLES:
        assert changed[("changed", "table", table)].after == {"kind": "partitioned table",
                                                              "partition_key": 'RANGE ("time")'}
    for (_, kind, name), change in changed.items():
        if kind == "index":
            assert change.after["definition"] == change.before["definition"].replace(" ON ", " ON ONLY ", 1)
    assert rows(pconn) == counted
    assert pconn.execute("SELECT count(*) FROM timescaledb_information.hypertables").fetchone()[0] == 0


@needs_citus
def test_the_partitions_are_months_from_the_window_or_the_oldest_row_to_three_months_ahead(pconn):
    """The timeline's from a year back (the application gives events a time of its own), the trail's
    from this month (its entries take the clock's), each from the oldest row's month when older; UTC
    months without a gap, named as Citus names them, owned by the table's owner, who drops them."""
    for table, back, oldest, owner in [("timeline.activity_timeline", "1 year", "403 days", OWNER),
                                       ("audit.events", "0", "8 years", "maplatform_audit_owner")]:
        got = pconn.execute("""
            SELECT p.partition::text, p.from_value::timestamptz, p.to_value::timestamptz, pg_get_userbyid(c.relowner),
                   lag(p.to_value::timestamptz) OVER (ORDER BY p.from_value::timestamptz)
            FROM time_partitions AS p JOIN pg_class AS c ON c.oid = p.partition
            WHERE p.parent_table = %s::regclass ORDER BY 2""", [table]).fetchall()
        first, end, names = pconn.execute("""
            SELECT date_trunc('month', least(now() - %(back)s::interval, now() - %(oldest)s::interval), 'UTC'),
                   date_trunc('month', now() + INTERVAL '3 months', 'UTC') + INTERVAL '1 month',
                   array_agg(%(table)s || '_p' || to_char(m AT TIME ZONE 'UTC', 'YYYY_MM') ORDER BY m)
            FROM generate_series(date_trunc('month', least(now() - %(back)s::interval, now() - %(oldest)s::interval),
                                            'UTC'),
                                 date_trunc('month', now() + INTERVAL '3 months', 'UTC'), INTERVAL '1 month') AS m""",
                                            {"back": back, "oldest": oldest, "table": table}).fetchone()
        assert (got[0][1], got[-1][2]) == (first, end), table
        assert [g[0] for g in got] == names
        assert all(g[4] is None or g[4] == g[1] for g in got)  # contiguous
        assert {g[3] for g in got} == {owner}


@needs_citus
def test_an_insert_lands_in_the_partition_of_its_month_and_one_without_a_partition_is_refused(pconn, partitioned):
    _, a, _, _, _ = partitioned
    with acting_as(pconn, APP, a["tenant"], keep=True):
        pconn.execute("INSERT INTO public.activity_timeline (time, event_type) VALUES (now(), 'landed')")
        pconn.execute("SELECT public.record_document_access(%s, %s, 'print')", [a["doc"], a["user1"]])
    month = pconn.execute("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')").fetchone()[0]
    assert pconn.execute("SELECT tableoid::regclass::text FROM timeline.activity_timeline "
                         "WHERE event_type = 'landed'").fetchall() == [(f"timeline.activity_timeline_p{month}",)]
    assert pconn.execute("SELECT tableoid::regclass::text FROM audit.events WHERE event_type = 'document_printed'"
                         ).fetchall() == [(f"audit.events_p{month}",)]
    with acting_as(pconn, APP, a["tenant"]):
        _, err = attempt(pconn, "INSERT INTO public.activity_timeline (time, event_type) "
                                "VALUES (now() + INTERVAL '2 years', 'too_far')")
    assert err is not None and err.sqlstate == "23514" and "no partition" in str(err)


@needs_citus
def test_the_applications_timeline_view_latest_activity_and_daily_summary_work_on_the_partitions(pconn, partitioned):
    _, a, b, _, _ = partitioned
    with acting_as(pconn, APP, a["tenant"]):
        tenants = {r[0] for r in pconn.execute("SELECT DISTINCT tenant_id FROM public.activity_timeline")}
        updated = pconn.execute("UPDATE public.activity_timeline SET event_type = 'seen' "
                                "WHERE time > now() - INTERVAL '1 day'").rowcount
        latest = pconn.execute("SELECT tenant_id, time FROM public.latest_activity(now() - INTERVAL '7 days', 5)"
                               ).fetchall()
        _, to_b = attempt(pconn, "INSERT INTO public.activity_timeline (time, tenant_id, event_type) "
                                 "VALUES (now(), %s, 'x')", [b["tenant"]])
    assert tenants == {a["tenant"]} and updated >= 23
    assert len(latest) == 5 and {t for t, _ in latest} == {a["tenant"]}
    assert [t for _, t in latest] == sorted((t for _, t in latest), reverse=True)
    assert to_b.sqlstate == "44000"  # WITH CHECK OPTION, as on the hypertable
    with pconn.transaction():
        pconn.execute("SET LOCAL ROLE maplatform_owner")  # as the pg_cron job runs it
        pconn.execute("SELECT ops.refresh_daily_activity_summary()")
    with acting_as(pconn, APP, b["tenant"]):
        seen = pconn.execute("SELECT count(DISTINCT tenant_id), sum(event_count) FROM public.tenant_daily_activity_summary"
                             ).fetchone()
    assert seen == (1, pconn.execute("SELECT count(*) FROM timeline.activity_timeline WHERE tenant_id = %s",
                                     [b["tenant"]]).fetchone()[0])


@needs_citus
def test_the_audit_trail_records_and_stays_append_only_on_the_partitions(pconn, partitioned):
    _, a, b, _, _ = partitioned
    with acting_as(pconn, APP, a["tenant"], keep=True):
        pconn.execute("SELECT public.record_data_room_access(%s, %s)", [a["room"], a["user2"]])
    pconn.execute("UPDATE public.data_room_permissions SET can_download = NOT can_download WHERE tenant_id = %s",
                  [a["tenant"]])
    with acting_as(pconn, APP, a["tenant"]):
        seen = pconn.execute("SELECT event_type, tenant_id FROM public.audit_events").fetchall()
    kinds = {k for k, _ in seen}
    assert {"data_room_opened", "permission_changed", "tenant_context_registered"} <= kinds
    assert {t for _, t in seen} == {a["tenant"]}
    for statement in ("UPDATE audit.events SET details = '{}'", "DELETE FROM audit.events", "TRUNCATE audit.events"):
        _, err = attempt(pconn, statement)
        assert err is not None and err.sqlstate == "42501" and "append-only" in str(err), statement
    partition = pconn.execute("SELECT max(partition::text) FROM time_partitions "
                              "WHERE parent_table = 'audit.events'::regclass").fetchone()[0]
    for statement in (f"DELETE FROM {partition}", f"TRUNCATE {partition}", f"DROP TABLE {partition}"):
        with acting_as(pconn, OWNER):  # the owner role: no privilege on a partition, and not its owner
            _, err = attempt(pconn, statement)
        assert err is not None and err.sqlstate == "42501", statement


@needs_citus
def test_retention_drops_the_months_past_the_window_as_the_jobs_role_and_keeps_the_rest(pconn):
    with pconn.transaction(force_rollback=True):
        before = rows(pconn)
        pconn.execute("SET LOCAL ROLE maplatform_owner")  # pg_cron's jobs run as the owner of ops.cron_jobs
        dropped = pconn.execute("SELECT ops.drop_expired_activity_timeline(), audit.drop_expired_events()").fetchone()
        pconn.execute("RESET ROLE")
        old = pconn.execute("""SELECT (SELECT count(*) FROM timeline.activity_timeline WHERE time < now() - INTERVAL '1 year'),
                                      (SELECT count(*) FROM audit.events WHERE time < now() - INTERVAL '7 years')""").fetchone()
        oldest = pconn.execute("""SELECT min(from_value::timestamptz) > now() - INTERVAL '1 year' - INTERVAL '1 month'
                                  FROM time_partitions WHERE parent_table = 'timeline.activity_timeline'::regclass""").fetchone()[0]
        after = rows(pconn)
    assert dropped[0] >= 1 and dropped[1] >= 1 and old == (0, 0) and oldest
    assert after == {"timeline.activity_timeline": before["timeline.activity_timeline"] - 3,
                     "audit.events": before["audit.events"] - 1}


@needs_citus
def test_the_partitions_jobs_keep_three_months_ahead_whatever_the_sessions_time_zone(pconn):
    """create_time_partitions aligns months in the session's time zone: in America/New_York it refused
    to extend UTC months ('does not align'); the jobs' functions say TimeZone UTC."""
    with pconn.transaction(force_rollback=True):
        last = {t: pconn.execute("SELECT max(partition::text) FROM time_partitions WHERE parent_table = %s::regclass",
                                 [t]).fetchone()[0] for t in TABLES}
        for partition in last.values():
            pconn.execute(f"DROP TABLE {partition}")
        pconn.execute("SET LOCAL TimeZone = 'America/New_York'")
        pconn.execute("SET LOCAL ROLE maplatform_owner")
        made = pconn.execute("SELECT ops.create_activity_timeline_partitions(), audit.create_event_partitions()").fetchone()
        again = pconn.execute("SELECT ops.create_activity_timeline_partitions(), audit.create_event_partitions()").fetchone()
        pconn.execute("RESET ROLE")
        now = {t: pconn.execute("SELECT max(partition::text) FROM time_partitions WHERE parent_table = %s::regclass",
                                [t]).fetchone()[0] for t in TABLES}
        owners = pconn.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = ANY (%s::regclass[]) "
                               "ORDER BY relname", [list(now.values())]).fetchall()
    assert made == (True, True) and again == (False, False) and now == last
    assert owners == [("maplatform_owner",), ("maplatform_audit_owner",)]


@needs_citus
def test_deleting_a_deal_keeps_its_timeline_events_without_it(pconn, partitioned):
    _, a, _, _, _ = partitioned
    with pconn.transaction(force_rollback=True):
        events = pconn.execute("SELECT count(*) FROM timeline.activity_timeline WHERE deal_id = %s",
                               [a["deal"]]).fetchone()[0]
        pconn.execute("DELETE FROM public.deals WHERE id = %s", [a["deal"]])
        left = pconn.execute("SELECT count(*) FROM timeline.activity_timeline WHERE tenant_id = %s AND deal_id IS NULL "
                             "AND event_type IN ('deal_viewed', 'seen')", [a["tenant"]]).fetchone()[0]
    assert events >= 72 and left >= events


@needs_citus
def test_partitions_made_and_dropped_later_are_not_drift(pconn, partitioned, project, tmp_path):
    """They come and go by date (the jobs), as TimescaleDB's chunks: a snapshot taken today still
    describes the database months later. The partitions this test makes are dropped again."""
    url = partitioned[0]
    path = tmp_path / "at_0038.yaml"
    snapshots.write(snapshots.take(url, project), path)
    with pconn.transaction():
        pconn.execute("SET LOCAL ROLE maplatform_owner")
        pconn.execute("SET LOCAL TimeZone = 'UTC'")
        pconn.execute("SELECT create_time_partitions('timeline.activity_timeline', INTERVAL '1 month', "
                      "now() + INTERVAL '8 months')")
    made = [r[0] for r in pconn.execute("""SELECT partition::text FROM time_partitions
                                           WHERE parent_table = 'timeline.activity_timeline'::regclass
                                             AND from_value::timestamptz > now() + INTERVAL '4 months'""")]
    assert made and drift(url, project, against=path).changes == []
    snapshots.write(snapshots.take(url, project), path)
    for partition in made:
        pconn.execute(f"DROP TABLE {partition}")
    assert drift(url, project, against=path).changes == []


@needs_citus
def test_the_rollback_makes_the_hypertables_again_as_they_were_with_their_rows(citus_cluster, project):
    url, _, _, before = hypertables_with_rows(citus_cluster, project)
    with psycopg.connect(url, autocommit=True) as c:
        counted = rows(c)
        migrate(url, project, to=PARTITIONING)
        rollback(url, project, to=before_partitioning(project))
        assert rows(c) == counted
        assert c.execute("""SELECT hypertable_schema || '.' || hypertable_name, num_chunks > 0
                            FROM timescaledb_information.hypertables ORDER BY 1""").fetchall() == [
            ("audit.events", True), ("timeline.activity_timeline", True)]
    assert catalog.diff(before, snapshots.take(url, project).data) == []


# ----- isolation on the workers: what a tenant-facing login reaches there -----------------------
# Citus opens its worker connections as the current role, so the application's logins (and the
# read-only role's) log in on the workers; the fixture's pg_hba.conf trusts every TCP connection, and
# docs/citus.md has the DBA allow them from the nodes. Everything the coordinator refuses them must be
# refused on a worker too, connected there directly or through run_command_on_workers.


def _worker_url(citus_cluster: CitusCluster, url: str, node: int, login: str) -> str:
    return f"postgresql://{login}@127.0.0.1:{citus_cluster.ports[node]}/{url.rsplit('/', 1)[1]}"


EXECUTABLE = """SELECT format('%%I.%%I(%%s)', n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes))
                FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
                WHERE has_function_privilege(%s, p.oid, 'EXECUTE')"""


@needs_citus
@pytest.mark.parametrize("role", ["maplatform_app", "maplatform_readonly"])
def test_a_tenant_login_may_execute_on_a_worker_no_function_the_coordinator_refuses_it(citus_cluster, citus_world,
                                                                                       role):
    """Enumerated from each node's catalog: every function of every schema. On the workers the owner's
    SECURITY DEFINER functions (app.mint_tenant_token, app.add_tenant_key, app.retire_tenant_key,
    app.verify_tenant_token, ops.*) had PUBLIC's EXECUTE, and TimescaleDB's internals 0016 revoked
    (Citus propagates a function, not its grants)."""
    world, logins = citus_world
    dbname = world.url.rsplit("/", 1)[1]
    on = [{f for (f,) in citus_cluster.sql(n, dbname, EXECUTABLE, [logins[role]])} for n in range(3)]
    assert sorted(on[1] - on[0]) == [] and sorted(on[2] - on[0]) == []


RELATION_PRIVILEGES = """SELECT format('%%I.%%I', n.nspname, c.relname), p.privilege
    FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace,
         unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p (privilege)
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND has_table_privilege(%s, c.oid, p.privilege)"""


@needs_citus
@pytest.mark.parametrize("role", ["maplatform_app", "maplatform_readonly"])
def test_a_tenant_login_may_use_on_a_worker_no_relation_the_coordinator_refuses_it(citus_cluster, citus_world, role):
    """Every relation of every schema on each node, the shards aside (the coordinator has none; the
    next tests attack them): 0002's and 0016's REVOKE on pg_stat_statements' views and TimescaleDB's
    invalidation logs had stayed on the coordinator."""
    world, logins = citus_world
    dbname = world.url.rsplit("/", 1)[1]
    on = [set(map(tuple, citus_cluster.sql(n, dbname, RELATION_PRIVILEGES, [logins[role]]))) for n in range(3)]
    names = {name for name, _ in on[0]} | {name for name, _ in citus_cluster.sql(
        0, dbname, RELATION_PRIVILEGES.replace("has_table_privilege(%s, c.oid, p.privilege)", "%s::text IS NOT NULL"),
        ["x"])}
    assert sorted(x for x in on[1] - on[0] if x[0] in names) == []
    assert sorted(x for x in on[2] - on[0] if x[0] in names) == []


@needs_citus
@pytest.mark.parametrize("role", ["maplatform_app", "maplatform_readonly"])
def test_a_tenant_login_on_a_worker_cannot_call_the_owners_signing_key_functions(citus_cluster, citus_world, role):
    """The attack: log in on a worker (directly, or run_command_on_workers from the coordinator) and mint
    a token for another tenant, or add a key of one's own and mint with it. On the workers the owner's
    functions ran, read the signing keys and computed the token; only the write of the registry (a
    reference table, placed on the coordinator too) failed, because the owner cannot log in on the
    coordinator. They must be refused before reading anything: 42501."""
    world, logins = citus_world
    calls = [("SELECT app.mint_tenant_token(%s, '1 hour')", [world.b["tenant"]]),
             ("SELECT app.add_tenant_key('attacker', "
              "'\\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'::bytea)", None),
             ("SELECT app.retire_tenant_key('test')", None), ("SELECT app.verify_tenant_token(%s)", [world.token_a])]
    outcomes = []
    for node in (1, 2):
        with psycopg.connect(_worker_url(citus_cluster, world.url, node, logins[role]), autocommit=True) as c:
            for statement, params in calls:
                try:
                    c.execute(statement, params)
                    outcomes.append((node, statement[:40], "ran"))
                except psycopg.Error as exc:
                    outcomes.append((node, statement[:40], exc.sqlstate))
    assert {o for *_, o in outcomes} == {"42501"}, outcomes
    with psycopg.connect(world.url, autocommit=True) as c:  # and run_command_on_workers is the same door
        c.execute(f'SET ROLE "{logins[role]}"')
        results = c.execute("SELECT success, result FROM run_command_on_workers(%s)",
                            [f"SELECT app.mint_tenant_token('{world.b['tenant']}', '1 hour')"]).fetchall()
    assert results and all(not ok and "permission denied for function mint_tenant_token" in r for ok, r in results)


@needs_citus
@pytest.mark.parametrize("role", ["maplatform_app", "maplatform_readonly"])
def test_a_tenant_login_on_a_worker_reads_only_its_tenants_rows_in_every_shard_it_may_read(citus_cluster, citus_world,
                                                                                          role):
    """The shards are ordinary tables on the workers, their names discoverable (pg_class, pg_dist_shard,
    citus.show_shards_for_app_name_prefixes). Read directly as the login with tenant A's token (set as
    Citus sets it: SET LOCAL app.tenant_token), and with none: every shard it may read has the table's
    row-level security, which binds the login (forced, or the login has no privilege of the shard's
    owner: 0040's timeline and audit trail), and shows no row of another tenant."""
    world, logins = citus_world
    tenant_a = str(world.a["tenant"])
    seen_a, seen_other, unbound = 0, [], []
    for node in (1, 2):
        with psycopg.connect(_worker_url(citus_cluster, world.url, node, logins[role])) as c:
            c.execute("SET citus.show_shards_for_app_name_prefixes = '*'")
            shards = c.execute(r"""
                SELECT c.oid::regclass::text,
                       c.relrowsecurity AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE')),
                       EXISTS (SELECT FROM pg_attribute AS a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')
                FROM pg_class AS c
                WHERE c.relkind IN ('r', 'p') AND c.relname ~ '_[0-9]{6,}$'
                  AND has_table_privilege(c.oid, 'SELECT')""").fetchall()
            assert shards
            for token in (world.token_a, None):
                # as Citus sends it: a literal
                c.execute(sql.SQL("SET LOCAL app.tenant_token = {}").format(sql.Literal(token or "")))
                for shard, binds, has_tenant in shards:
                    if not has_tenant:  # app.resource_types: global, no tenant rows
                        continue
                    unbound += [shard] if not binds else []
                    rows = c.execute(f"SELECT tenant_id::text, count(*) FROM {shard} GROUP BY 1").fetchall()
                    seen_a += sum(n for t, n in rows if t == tenant_a and token)
                    seen_other += [(shard, t, token is not None) for t, n in rows if t != tenant_a or not token]
                c.rollback()
    assert unbound == [] and seen_other == [] and seen_a > 0


@needs_citus
@pytest.mark.parametrize("role", ["maplatform_app", "maplatform_readonly"])
def test_a_tenant_login_has_on_the_workers_no_database_or_schema_privilege_the_coordinator_refuses(
        citus_cluster, citus_world, role):
    """0016's REVOKE TEMPORARY and the schemas' grants (app_private, ops: no USAGE; timeline and audit:
    USAGE since 0040, for the tables under their policy) are the same on every node (Citus propagates
    grants on databases and schemas)."""
    world, logins = citus_world
    dbname = world.url.rsplit("/", 1)[1]
    probe = """SELECT has_database_privilege(%(r)s, current_database(), 'TEMPORARY'),
                      has_database_privilege(%(r)s, current_database(), 'CREATE'),
                      ARRAY(SELECT nspname::text FROM pg_namespace WHERE has_schema_privilege(%(r)s, oid, 'USAGE')
                            ORDER BY 1),
                      ARRAY(SELECT nspname::text FROM pg_namespace WHERE has_schema_privilege(%(r)s, oid, 'CREATE')
                            ORDER BY 1)"""
    seen = [citus_cluster.sql(n, dbname, probe, {"r": logins[role]})[0] for n in range(3)]
    assert seen[0][:2] == (False, False) and seen[0][3] == []
    assert not {"app_private", "ops"} & set(seen[0][2]) and {"timeline", "audit"} <= set(seen[0][2])
    assert seen[1] == seen[0] and seen[2] == seen[0]


@needs_citus
def test_a_worker_where_public_may_execute_a_function_the_coordinator_refuses_it_gets_the_coordinators_grants(
        citus_cluster, project):
    """What dbtool migrate does before each migration: a grant a DBA (or an extension's update) gave
    back on a worker is doctor's `missing`, and the next preparation takes it away again, once."""
    url = citus_cluster.database()
    migrate(url, project)
    dbname = url.rsplit("/", 1)[1]
    citus_cluster.sql(1, dbname, "SET citus.enable_ddl_propagation = off; "
                                 "GRANT EXECUTE ON FUNCTION app.mint_tenant_token(uuid, interval, text) TO PUBLIC; "
                                 "GRANT SELECT ON public.pg_stat_statements TO PUBLIC; "
                                 "REVOKE EXECUTE ON FUNCTION app.verified_tenant() FROM maplatform_app")
    worker = f"127.0.0.1:{citus_cluster.ports[1]}"
    line = {c.name: c for c in doctor(url, project)}["citus function grants on workers"]
    assert line.status == "missing" and line.value.startswith(f"PUBLIC may use on {worker} functions or relations ")
    with psycopg.connect(url, autocommit=True) as c:
        assert citus.prepare(c, project) == [
            f"what PUBLIC may not use on the coordinator revoked from PUBLIC on worker(s) {worker} "
            "(functions: the owner's key functions, TimescaleDB's internals; relations: pg_stat_statements)"]
        assert citus.prepare(c, project) == []
    assert citus_cluster.sql(1, dbname, """
        SELECT has_function_privilege('public', 'app.mint_tenant_token(uuid, interval, text)', 'EXECUTE'),
               has_function_privilege('maplatform_app', 'app.verified_tenant()', 'EXECUTE'),
               has_table_privilege('public', 'public.pg_stat_statements', 'SELECT')""") == [(False, True, False)]
    assert {c.name: c.status for c in doctor(url, project)}["citus function grants on workers"] == "ok"


@needs_citus
@pytest.mark.parametrize("role", ["maplatform_app", "maplatform_readonly"])
def test_a_tenant_login_on_a_worker_cannot_read_the_signing_keys_or_the_token_registry_placements(
        citus_cluster, citus_world, role):
    """app_private.tenant_keys and app.tenant_tokens are reference tables: a placement on every node,
    its name in pg_dist_shard (readable by PUBLIC). Read as the login on each worker, the table and its
    placement by name: refused (no USAGE on app_private, no grant on the registry or its placement)."""
    world, logins = citus_world
    outcomes = []
    for node in (1, 2):
        with psycopg.connect(_worker_url(citus_cluster, world.url, node, logins[role]), autocommit=True) as c:
            placements = [r for (r,) in c.execute(
                """SELECT format('%I.%I', n.nspname, c.relname || '_' || s.shardid)
                   FROM pg_dist_shard AS s JOIN pg_class AS c ON c.oid = s.logicalrelid
                   JOIN pg_namespace AS n ON n.oid = c.relnamespace
                   WHERE (n.nspname, c.relname) IN (('app_private', 'tenant_keys'), ('app', 'tenant_tokens'))""")]
            assert len(placements) == 2
            for relation in ["app_private.tenant_keys", "app.tenant_tokens", *placements]:
                try:
                    c.execute(f"SELECT count(*) FROM {relation}")
                    outcomes.append((node, relation, "read"))
                except psycopg.Error as exc:
                    outcomes.append((node, relation, exc.sqlstate))
    assert {o for *_, o in outcomes} == {"42501"}, outcomes


# ----- backup and restore of a coordinator ----------------------------------------------------------


def distribution_of(citus_cluster: CitusCluster, url: str) -> dict[str, tuple]:
    """Each Citus table but partitions: (type, distribution column, shard count, the tables of its
    co-location group), read from citus_tables: the group's id differs between databases."""
    rows = citus_cluster.sql(0, url.rsplit("/", 1)[1], """
        SELECT t.table_name::text, t.citus_table_type, t.distribution_column, t.shard_count,
               (SELECT array_agg(g.table_name::text ORDER BY g.table_name::text) FROM citus_tables AS g
                WHERE g.colocation_id = t.colocation_id AND t.citus_table_type = 'distributed')
        FROM citus_tables AS t JOIN pg_class AS c ON c.oid = t.table_name WHERE NOT c.relispartition""")
    return {r[0]: tuple(r[1:4]) + (tuple(r[4] or ()),) for r in rows}


def rows_of_every_table(citus_cluster: CitusCluster, url: str) -> dict[str, int]:
    """Every table's (and time partition's) row count, as the superuser counts them through the coordinator."""
    dbname = url.rsplit("/", 1)[1]
    names = [r[0] for r in citus_cluster.sql(0, dbname, """
        SELECT format('%%I.%%I', n.nspname, c.relname) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY (%s)""", [APP_SCHEMAS + ["dbtool", "ops"]])]
    return {t: citus_cluster.sql(0, dbname, f"SELECT count(*) FROM {t}")[0][0] for t in names}


@dataclass
class Restored:
    source: str
    target: str
    backup: dict  # backup --json
    restore: dict  # restore --json
    rows: dict[str, int]  # every table's rows in the restored database, before anything else wrote to it
    world: object  # tests/test_attacks.py's World, its url the restored database's
    logins: dict[str, str]


@pytest.fixture(scope="module")
def citus_restored(citus_cluster, project, tmp_path_factory) -> Restored:
    """A coordinator database migrated to head and seeded by `dbtool seed --small`, backed up with
    `dbtool backup`, and restored by `dbtool restore` into another empty coordinator database of the
    cluster (created on every node with Citus, its workers registered, as docs/citus.md has the DBA
    do), where tests/test_attacks.py's two tenants are then written for the isolation tests."""
    import json

    from test_attacks import build_world
    source = citus_cluster.database()
    migrate(source, project, sync_cron=False)
    seeded = run("seed", "--small", "--database-url", source)
    assert seeded.exit_code == 0, seeded.output
    folder = tmp_path_factory.mktemp("citus_backup")
    made = run("backup", "--database-url", source, "--out", str(folder), "--json")
    assert made.exit_code == 0, made.output
    target = citus_cluster.database()
    restored = run("restore", json.loads(made.stdout)["archive"], "--database-url", target, "--json")
    assert restored.exit_code == 0, restored.output
    rows = rows_of_every_table(citus_cluster, target)
    world = build_world(target)  # test_attacks' two tenants (their text columns marked by UPDATEs)
    logins = {"maplatform_app": f"citus_restored_api_{os.getpid()}",
              "maplatform_readonly": f"citus_restored_bi_{os.getpid()}"}
    for role, login in logins.items():
        citus_cluster.sql(0, target.rsplit("/", 1)[1],
                          f'DROP ROLE IF EXISTS "{login}"; CREATE ROLE "{login}" LOGIN IN ROLE {role}')
    yield Restored(source, target, json.loads(made.stdout), json.loads(restored.stdout), rows, world, logins)
    for login in logins.values():
        citus_cluster.sql(0, target.rsplit("/", 1)[1], f'DROP ROLE IF EXISTS "{login}"')


@needs_citus
def test_seed_writes_the_demo_data_through_a_coordinator_at_head(citus_cluster, citus_restored):
    """`dbtool seed --small` on a coordinator whose tables 0039 distributed: every row in the shards."""
    counts = rows_of_every_table(citus_cluster, citus_restored.source)
    assert counts["public.deals"] == 120  # seed's 3 tenants x 40
    assert counts["public.documents"] > 0 and counts["audit.events"] > 0


@needs_citus
def test_a_restored_coordinator_has_each_table_distributed_as_the_source_and_every_row(citus_cluster,
                                                                                        citus_restored):
    r = citus_restored
    source = distribution_of(citus_cluster, r.source)
    assert {v[0] for v in source.values()} == {"distributed", "reference"}
    assert distribution_of(citus_cluster, r.target) == source
    assert r.rows == rows_of_every_table(citus_cluster, r.source)
    assert r.backup["tables"] > 0
    assert {k: r.restore["citus"][k] for k in ("distributed", "reference", "local", "colocation_groups")} == {
        "distributed": sum(v[0] == "distributed" for v in source.values()),
        "reference": len(REFERENCE_TABLES), "local": 0, "colocation_groups": 1}


@needs_citus
def test_a_restored_coordinator_has_the_time_partitions_and_their_jobs_and_no_drift(citus_cluster, citus_restored,
                                                                                     project):
    r = citus_restored
    partitions = ("SELECT array_agg(inhrelid::regclass::text ORDER BY inhrelid::regclass::text) FROM pg_inherits "
                  "WHERE inhparent = %s::regclass")
    for parent in ("timeline.activity_timeline", "audit.events"):
        assert (citus_cluster.sql(0, r.target.rsplit("/", 1)[1], partitions, [parent])
                == citus_cluster.sql(0, r.source.rsplit("/", 1)[1], partitions, [parent]))
    jobs = [row[0] for row in citus_cluster.sql(0, "postgres", "SELECT jobname FROM cron.job WHERE database = %s",
                                                [r.target.rsplit("/", 1)[1]])]
    assert [j for j in jobs if j.startswith(("activity_timeline_partitions", "audit_events_partitions"))], jobs
    assert [(c.action, c.kind, c.name) for c in drift(r.target, project).changes] == []


@needs_citus
def test_status_on_a_restored_coordinator_shows_every_migration_applied(citus_restored, project):
    res = run("status", "--database-url", citus_restored.target)
    assert res.exit_code == 0, res.output
    assert status(citus_restored.target, project).migrations[-1].state == "applied"


@needs_citus
@pytest.mark.parametrize("role", ["maplatform_app", "maplatform_readonly"])
def test_isolation_holds_on_a_restored_coordinator(citus_cluster, citus_restored, role):
    """Through the restored coordinator, a login of the role with tenant A's token (its key and the token
    registry restored) sees A's rows in every table, and no relation PUBLIC may not use on the
    coordinator is usable on a worker (the restore gave the workers the coordinator's grants)."""
    from schema_support import tenant_views
    world, login = citus_restored.world, citus_restored.logins[role]
    with psycopg.connect(world.url, autocommit=True) as c:
        views = set(tenant_views(c))
        b_rows = c.execute("SELECT count(*) FROM public.deals WHERE tenant_id = %s", [world.b["tenant"]]).fetchone()[0]
    expected, seen = _counts_as_login(world, login, [r for r in world.relations if r not in views])
    assert all(expected.values()), expected
    assert seen == expected
    assert b_rows > 0
    with psycopg.connect(world.url, autocommit=True) as c:
        c.execute(f'SET ROLE "{login}"')
        with c.transaction(force_rollback=True):
            c.execute("SELECT public.set_tenant_context(%s)", [world.token_a])
            assert c.execute("SELECT count(*) FROM public.deals WHERE tenant_id = %s",
                             [world.b["tenant"]]).fetchone()[0] == 0
    result = citus_cluster.sql(0, world.url.rsplit("/", 1)[1], """
        SELECT result FROM run_command_on_workers($$SELECT has_function_privilege('public',
            'app.mint_tenant_token(uuid, interval, text)', 'EXECUTE')$$)""")
    assert {r[0] for r in result} <= {"f"}, result


@needs_citus
def test_a_citus_archive_into_plain_postgresql_is_refused_and_nothing_is_made(citus_restored, tmp_path, server,
                                                                                empty_db):
    archive = citus_restored.backup["archive"]
    new_name = f"never_made_{os.getpid()}"
    res = run("restore", archive, "--database-url", server.url(new_name))
    assert res.exit_code == 2, res.output
    assert "the archive comes from a Citus coordinator" in res.output and f"{new_name} does not exist" in res.output
    with psycopg.connect(server.url(), autocommit=True) as c:
        assert not c.execute("SELECT FROM pg_database WHERE datname = %s", [new_name]).fetchall()
    res = run("restore", archive, "--database-url", empty_db)
    assert res.exit_code == 2, res.output
    assert "has no citus extension" in res.output and "hint: restore into an empty database of a Citus" in res.output
    with psycopg.connect(empty_db, autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace").fetchone() == (0,)


@needs_citus
def test_a_plain_archive_into_a_coordinator_database_is_refused(citus_cluster, migrated_db, tmp_path):
    import json
    made = run("backup", "--database-url", migrated_db, "--out", str(tmp_path), "--json")
    assert made.exit_code == 0, made.output
    target = citus_cluster.database()
    res = run("restore", json.loads(made.stdout)["archive"], "--database-url", target)
    assert res.exit_code == 2, res.output
    assert "the archive comes from a server without Citus" in res.output
    assert citus_cluster.sql(0, target.rsplit("/", 1)[1], "SELECT count(*) FROM pg_namespace WHERE nspname = 'app'") == [(0,)]


@needs_citus
def test_a_restore_into_a_coordinator_that_fails_leaves_it_empty_with_its_workers(citus_cluster, citus_restored,
                                                                                   tmp_path):
    """The manifest says one deal more than the archive holds: the restore fails at its verification,
    after distributing and writing everything, and the target is empty again on every node, Citus in
    it and its workers registered, ready for another restore."""
    import json
    import shutil
    archive = Path(citus_restored.backup["archive"])
    manifest = Path(citus_restored.backup["manifest"])
    for f in (archive, manifest):
        shutil.copy(f, tmp_path / f.name)
    man = json.loads(manifest.read_text())
    man["tables"]["public.deals"]["rows"] += 1
    (tmp_path / manifest.name).write_text(json.dumps(man))
    target = citus_cluster.database()
    dbname = target.rsplit("/", 1)[1]
    res = run("restore", str(tmp_path / archive.name), "--database-url", target)
    assert res.exit_code == 3, res.output
    assert "public.deals: " in res.output and f"{dbname} was emptied again" in res.output
    for node in range(3):
        assert citus_cluster.sql(node, dbname, "SELECT count(*) FROM pg_namespace WHERE nspname = 'app'") == [(0,)]
        assert citus_cluster.sql(node, dbname, "SELECT count(*) FROM pg_extension WHERE extname = 'citus'") == [(1,)]
    assert citus_cluster.sql(0, dbname, "SELECT count(*) FROM pg_dist_node WHERE groupid > 0") == [(2,)]


@needs_citus
def test_verify_given_a_coordinators_server_builds_its_scratch_database_there_and_drops_it(citus_cluster):
    """The scratch database is made without the citus extension, so it checks the migrations as on plain
    PostgreSQL (0038 and 0039 do nothing there); their Citus side is checked by the tests above."""
    before = citus_cluster.sql(0, "postgres", "SELECT array_agg(datname ORDER BY datname) FROM pg_database")
    res = run("verify", "--server-url", citus_cluster.url("postgres"))
    assert res.exit_code == 0, res.output
    assert "survive up, down, up" in res.output
    assert citus_cluster.sql(0, "postgres", "SELECT array_agg(datname ORDER BY datname) FROM pg_database") == before


@needs_citus
def test_an_updated_tenant_has_one_updated_at_on_every_placement(citus_cluster, citus_restored):
    """public.tenants is a reference table and its BEFORE UPDATE trigger fires on each copy, in each node's
    transaction: 0042 gives it the distributed transaction's timestamp, one value on every copy."""
    dbname = citus_restored.target.rsplit("/", 1)[1]
    shard = citus_cluster.sql(0, dbname, "SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'public.tenants'::regclass")[0][0]
    citus_cluster.sql(0, dbname, "UPDATE public.tenants SET company_name = company_name || '.' WHERE subdomain = 'tenant-a'")
    seen = {citus_cluster.sql(node, dbname, f"SELECT updated_at FROM public.tenants_{shard} WHERE subdomain = 'tenant-a'")[0][0]
            for node in range(3)}
    assert len(seen) == 1, seen


@needs_citus
def test_a_coordinator_whose_tenants_were_updated_is_backed_up_and_restored(citus_cluster, citus_restored,
                                                                            tmp_path):
    """Before 0042 the copies of an updated tenant differed, and the restore of such a backup failed its
    verification ("public.tenants: same row count, different content"). The restored database's tenants
    were all updated since (test_attacks' marks), and it is the one backed up here."""
    import json
    made = run("backup", "--database-url", citus_restored.target, "--out", str(tmp_path), "--json")
    assert made.exit_code == 0, made.output
    again = citus_cluster.database()
    restored = run("restore", json.loads(made.stdout)["archive"], "--database-url", again, "--json")
    assert restored.exit_code == 0, restored.output
    assert rows_of_every_table(citus_cluster, again) == rows_of_every_table(citus_cluster, citus_restored.target)
