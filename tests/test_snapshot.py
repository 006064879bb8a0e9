"""The catalog snapshot: stable, complete for every kind the issue lists, blind to what is not schema,
and the committed snapshot of head never stale."""

from __future__ import annotations

import json

import psycopg
import pytest
from typer.testing import CliRunner

from dbtool import catalog, cron
from dbtool.cli import app
from dbtool import snapshots as snap_cmd
from dbtool.commands import snapshot as snapshot_command
from scratch_support import databases_created_on

runner = CliRunner()


def synced(url: str) -> str:
    """The template is migrated without cron sync; schedule the declared jobs like `dbtool migrate`."""
    with psycopg.connect(url, autocommit=True) as c:
        cron.sync(url, c)
    return url


def has(attrs: dict, expected: dict) -> bool:
    return expected.items() <= attrs.items()


def dbname(url: str) -> str:
    return url.rsplit("/", 1)[1]


def snap(url: str) -> dict:
    return snap_cmd.take(url).data


def committed_file(project, edition: str | None):
    """The committed snapshot of `edition`; a missing one fails with the command that makes it."""
    path = snap_cmd.snapshot_file(project, edition)
    if not path.is_file():
        pytest.fail(f"{path.relative_to(project.root)} (the committed snapshot of TimescaleDB's {edition!r} edition) "
                    f"is missing: run {snap_cmd.make_command(edition)} and commit it")
    return path


def test_committed_snapshot_equals_a_database_migrated_from_scratch(migrated_db, project):
    live = snap_cmd.take(synced(migrated_db), project)
    path = committed_file(project, live.edition)  # the one of this server's edition
    committed = snap_cmd.read_file(path)
    changes = catalog.diff(committed.data, live.data)
    assert not changes, (f"{path.relative_to(project.root)} is stale: run {snap_cmd.make_command(live.edition)} "
                         "and commit it. Differences:\n"
                         + "\n".join(f"{c.action} {c.kind} {c.name}" for c in changes[:30])
                         + (f"\n... and {len(changes) - 30} more" if len(changes) > 30 else ""))
    assert committed.data.keys() == live.data.keys()
    assert (committed.version, committed.edition) == (live.version, live.edition)


def test_each_timescaledb_edition_has_its_committed_snapshot(project):
    """The migrations build another schema on each edition (0018): both files are committed, each
    says which edition it describes, and they differ where the editions do."""
    assert snap_cmd.snapshot_file(project, None) == snap_cmd.snapshot_file(project, "apache") \
        == project.root / "schema" / "snapshot.yaml"
    assert snap_cmd.snapshot_file(project, "timescale") == project.root / "schema" / "snapshot.timescale.yaml"
    head = snap_cmd.migration_ids(project)[-1]
    for edition in ("apache", "timescale"):
        path = committed_file(project, edition)
        got = snap_cmd.read_file(path)
        assert (got.edition, got.version) == (edition, head), (
            f"{path.relative_to(project.root)} is the snapshot of {got.version} on the {got.edition!r} edition, "
            f"not of {head} on the {edition!r} one: run {snap_cmd.make_command(edition)} and commit it")
    apache, community = (snap_cmd.read_file(committed_file(project, e)) for e in ("apache", "timescale"))
    assert apache.data["timescale_job"] == {} and apache.data["continuous_aggregate"] == {}
    assert {"activity_timeline_retention", "refresh_daily_activity_summary"} <= set(apache.data["cron_job"])
    assert set(community.data["timescale_job"]) == {
        "policy_compression on timeline.activity_timeline", "policy_retention on timeline.activity_timeline",
        "policy_refresh_continuous_aggregate on timeline.daily_activity_summary"}
    assert community.data["continuous_aggregate"]["timeline.daily_activity_summary"]["materialized_only"] is True
    assert "timeline.daily_activity_summary" in apache.data["view"]


def test_two_snapshots_of_one_database_are_byte_identical(migrated_db):
    url = synced(migrated_db)
    first, second = snap_cmd.take(url).text(), snap_cmd.take(url).text()
    assert first == second
    assert catalog.parse(first) == snap(url)


def test_two_databases_under_other_names_have_the_same_snapshot_and_no_database_name(
        migrated_db, db_factory, server):
    other = synced(db_factory(template=server.template))
    synced(migrated_db)
    a, b = snap_cmd.take(migrated_db).text(), snap_cmd.take(other).text()
    assert a == b
    assert dbname(migrated_db) not in a and dbname(other) not in b


def test_render_and_parse_round_trip_awkward_text():
    weird = {"function": {"public.f(integer)": {
        "body": "\n  BEGIN\t-- tab\n    RETURN 1;   \n  END;\n", "trailing": "x\n\n", "lead": "  two spaces\nthen",
        "yes": "yes", "num": "1.10", "empty": "", "unicode": "é ✓\nline", "n": 9223372036854775807,
        "privileges": {"b": ["UPDATE", "SELECT"], "a": ["EXECUTE"]}}}}
    text = catalog.render(weird)
    assert catalog.parse(text) == catalog.normalise(weird)
    assert catalog.render(catalog.parse(text)) == text


def test_parse_rejects_text_that_is_not_a_snapshot():
    for bad in ("- a\n- b\n", "kind: [1, 2]\n", "a: {b: [\n"):
        with pytest.raises(ValueError):
            catalog.parse(bad)


KINDS_SQL = """
CREATE SCHEMA shop;
COMMENT ON SCHEMA shop IS 'test schema';
CREATE TYPE shop.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE shop.pair AS (a integer, b text);
CREATE TYPE shop.span AS RANGE (subtype = integer);
CREATE DOMAIN shop.pct AS integer NOT NULL DEFAULT 0 CONSTRAINT pct_range CHECK (VALUE BETWEEN 0 AND 100);
CREATE SEQUENCE shop.counter START 10 INCREMENT 5 CACHE 2;
CREATE COLLATION shop.german (provider = icu, locale = 'de-DE');
COMMENT ON COLLATION shop.german IS 'for names';
CREATE TABLE shop.parent (id integer PRIMARY KEY, code text COLLATE "C" UNIQUE, label text COLLATE shop.german);
CREATE TABLE shop.special_parent (code text COLLATE "C") INHERITS (shop.parent);
CREATE TABLE shop.item (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    parent_id integer,
    name text NOT NULL DEFAULT 'x',
    upper_name text GENERATED ALWAYS AS (upper(name)) STORED,
    mood shop.mood,
    during tstzrange,
    CONSTRAINT item_no_overlap EXCLUDE USING gist (during WITH &&)
) WITH (fillfactor = 80);
ALTER TABLE shop.item ADD CONSTRAINT item_parent_fk FOREIGN KEY (parent_id) REFERENCES shop.parent (id) NOT VALID;
ALTER TABLE shop.item ADD CONSTRAINT item_name_check CHECK (name <> '') NOT VALID;
COMMENT ON COLUMN shop.item.name IS 'the name';
CREATE INDEX item_name_idx ON shop.item (lower(name)) WHERE name IS NOT NULL;
ALTER TABLE shop.item ENABLE ROW LEVEL SECURITY;
ALTER TABLE shop.item FORCE ROW LEVEL SECURITY;
CREATE POLICY item_read ON shop.item AS RESTRICTIVE FOR SELECT TO PUBLIC USING (name <> 'secret');
CREATE FUNCTION shop.stamp() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp AS $$BEGIN NEW.name := btrim(NEW.name); RETURN NEW; END$$;
CREATE TRIGGER item_stamp BEFORE INSERT ON shop.item FOR EACH ROW EXECUTE FUNCTION shop.stamp();
CREATE PROCEDURE shop.tidy(keep integer DEFAULT 3) LANGUAGE sql BEGIN ATOMIC DELETE FROM shop.item WHERE id < keep; END;
CREATE VIEW shop.item_names WITH (security_invoker = true, security_barrier = true) AS SELECT id, name FROM shop.item;
CREATE MATERIALIZED VIEW shop.item_count AS SELECT count(*) AS n FROM shop.item;
CREATE UNIQUE INDEX item_count_n ON shop.item_count (n);
GRANT USAGE ON SCHEMA shop TO PUBLIC;
GRANT SELECT (name) ON shop.item TO PUBLIC;
REVOKE EXECUTE ON FUNCTION shop.stamp() FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON TABLES TO PUBLIC;
"""


def test_snapshot_covers_every_kind_of_object_with_its_attributes(empty_db, conn_to):
    conn = conn_to(empty_db)
    conn.execute("CREATE EXTENSION btree_gist")
    conn.execute(KINDS_SQL)
    s = snap(empty_db)
    assert s["schema"]["shop"]["comment"] == "test schema"
    assert s["schema"]["shop"]["privileges"]["PUBLIC"] == ["USAGE"]
    assert s["extension"]["btree_gist"]["version"]
    assert s["type"]["shop.mood"]["labels"] == ["sad", "ok", "happy"]  # catalog order, not sorted
    assert s["type"]["shop.pair"]["attributes"] == ["a integer", "b text"]
    assert s["type"]["shop.span"]["subtype"] == "integer"
    assert has(s["type"]["shop.pct"], {"kind": "domain", "base_type": "integer", "not_null": True,
                                          "default": "0"})
    assert "BETWEEN" not in s["type"]["shop.pct"]["constraints"]["pct_range"]  # deparsed by the server
    assert has(s["sequence"]["shop.counter"], {"start": 10, "increment": 5, "cache": 2})
    assert s["sequence"]["shop.item_id_seq"]["owned_by"] == "shop.item.id"
    t = s["table"]["shop.item"]
    assert (t["rls_enabled"], t["rls_forced"], t["options"]) == (True, True, ["fillfactor=80"])
    cols = {k.rsplit(".", 1)[1]: v for k, v in s["column"].items() if k.startswith("shop.item.")}
    assert [c for c, v in sorted(cols.items(), key=lambda kv: kv[1]["position"])] == [
        "id", "parent_id", "name", "upper_name", "mood", "during"]
    assert cols["id"]["identity"] == "by default"
    assert has(cols["name"], {"default": "'x'::text", "not_null": True, "comment": "the name",
                                 "privileges": {"PUBLIC": ["SELECT"]}})
    assert cols["upper_name"]["generated"] == "upper(name)"
    assert cols["mood"]["type"] == "shop.mood"
    assert s["column"]["shop.parent.code"]["collation"] == '"C"'
    assert s["column"]["shop.parent.label"]["collation"] == "shop.german"
    assert has(s["collation"]["shop.german"], {"provider": "icu", "locale": "de-DE", "deterministic": True,
                                               "owner": "postgres", "comment": "for names"})
    assert "collversion" not in s["collation"]["shop.german"]  # the ICU library's, not schema
    assert s["table"]["shop.special_parent"]["inherits"] == ["shop.parent"]
    assert has(s["column"]["shop.special_parent.id"], {"inherited": 1, "local": False})
    assert has(s["column"]["shop.special_parent.code"], {"inherited": 1, "local": True})
    assert "local" not in s["column"]["shop.parent.id"]
    k = s["constraint"]
    assert has(k["shop.item.item_parent_fk"], {"type": "foreign key", "validated": False})
    assert "NOT VALID" in k["shop.item.item_parent_fk"]["definition"]
    assert k["shop.item.item_name_check"]["validated"] is False
    assert k["shop.item.item_no_overlap"]["type"] == "exclusion"
    assert k["shop.parent.parent_code_key"]["type"] == "unique"
    i = s["index"]["shop.item_name_idx"]
    assert i["valid"] is True and i["definition"].endswith("(lower(name)) WHERE (name IS NOT NULL)")
    assert s["index"]["shop.item_count_n"]["table"] == "shop.item_count"
    p = s["policy"]["shop.item.item_read"]
    assert p == {"command": "SELECT", "permissive": False, "roles": ["PUBLIC"], "using": "(name <> 'secret'::text)"}
    f = s["function"]["shop.stamp()"]
    assert has(f, {"language": "plpgsql", "security_definer": True, "returns": "trigger",
                      "config": ["search_path=pg_catalog, pg_temp"], "volatility": "volatile", "strict": False})
    assert "btrim" in f["body"] and "PUBLIC" not in f.get("privileges", {})
    proc = s["function"]["shop.tidy(integer)"]
    assert proc["kind"] == "procedure" and proc["arguments"] == "IN keep integer DEFAULT 3"
    assert "DELETE FROM shop.item" in proc["body"]
    assert "EXECUTE FUNCTION shop.stamp()" in s["trigger"]["shop.item.item_stamp"]["definition"]
    v = s["view"]["shop.item_names"]
    assert v["options"] == ["security_barrier=true", "security_invoker=true"] and "FROM shop.item" in v["definition"]
    assert s["view"]["shop.item_count"]["kind"] == "materialized view"
    assert s["default_privileges"]["postgres in shop on tables"]["privileges"] == {"PUBLIC": ["SELECT"]}


def test_snapshot_leaves_out_chunks_extension_objects_bookkeeping_and_run_history(migrated_db, conn_to):
    conn = conn_to(migrated_db)
    before = snap(migrated_db)
    conn.execute("CREATE TABLE public.ticks (t timestamptz NOT NULL, v integer)")
    conn.execute("CREATE SCHEMA tick_chunks")  # chunks outside _timescaledb_internal are left out too
    conn.execute("SELECT public.create_hypertable('public.ticks', 't', chunk_time_interval => interval '1 day', "
                 "associated_schema_name => 'tick_chunks')")
    conn.execute("INSERT INTO public.ticks SELECT now() - i * interval '1 day', i FROM generate_series(1, 5) AS i")
    assert conn.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'tick_chunks'::regnamespace "
                        "AND relkind = 'r'").fetchone()[0] == 5
    conn.execute("CREATE SCHEMA IF NOT EXISTS dbtool")
    s = snap(migrated_db)
    text = catalog.render(s)
    assert has(s["hypertable"]["public.ticks"], {"time_column": "t", "chunk_interval": "1 day",
                                                 "chunk_schema": "tick_chunks"})
    assert "_timescaledb_internal" not in text and "_hyper_" not in text  # no chunks
    added = {kind: sorted(set(s[kind]) - set(before[kind])) for kind in s if set(s[kind]) - set(before[kind])}
    assert added == {"schema": ["tick_chunks"], "table": ["public.ticks"], "hypertable": ["public.ticks"],
                     "column": ["public.ticks.t", "public.ticks.v"], "index": ["public.ticks_t_idx"],
                     "trigger": ["public.ticks.ts_insert_blocker"]}
    assert not [n for kind in s.values() for n in kind if n.startswith(("dbtool.", "timescaledb_", "_timescaledb"))]
    assert "dbtool" not in s["schema"]
    assert not [f for f in s["function"] if "uuid_generate_v4" in f or "time_bucket" in f]  # extension members
    assert "pg_cron" not in s["extension"]
    assert "public.ticks.ts_insert_blocker" in s["trigger"]


def test_snapshot_inside_a_callers_transaction_restores_its_settings(migrated_db, conn_to):
    conn = conn_to(migrated_db)
    with conn.transaction():
        conn.execute("SET LOCAL search_path = public, pg_catalog")
        conn.execute("SET LOCAL IntervalStyle = iso_8601")
        s = catalog.snapshot(conn)
        assert conn.execute("SELECT current_setting('search_path'), current_setting('IntervalStyle')").fetchone() \
            == ("public, pg_catalog", "iso_8601")
    assert s == catalog.snapshot(conn)
    with psycopg.connect(migrated_db) as plain:  # not autocommit: left as found, no transaction open
        assert catalog.snapshot(plain) == s
        assert plain.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_cron_jobs_are_read_from_the_cron_database_without_the_database_suffix(migrated_db, conn_to, server):
    conn = conn_to(migrated_db)
    database = migrated_db.rsplit("/", 1)[1]
    cron_conn = conn_to(server.url("postgres"))
    cron_conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
    # As the jobs role: the test cluster refuses jobs that would run as a superuser (cron.enable_superuser_jobs)
    cron_conn.execute("SELECT cron.schedule_in_database(%s, '0 5 * * *', 'SELECT 1', %s, 'maplatform_owner')",
                      [f"nightly@{database}", database])
    cron_conn.execute("SELECT cron.schedule_in_database('by_hand', '0 6 * * *', 'SELECT 2', %s, 'maplatform_owner')",
                      [database])
    expected = {"nightly": {"active": True, "command": "SELECT 1", "schedule": "0 5 * * *",
                            "username": "maplatform_owner"},
                "by_hand (not managed by dbtool)": {"active": True, "command": "SELECT 2", "schedule": "0 6 * * *",
                                                    "username": "maplatform_owner"}}
    try:
        with_conn = catalog.snapshot(conn, cron_conn=cron_conn)["cron_job"]
        opened_itself = catalog.snapshot(conn)["cron_job"]  # same server and credentials, cron database
    finally:
        cron_conn.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE database = %s", [database])
    assert {k: v for k, v in with_conn.items() if k in expected} == expected
    assert opened_itself == with_conn


def test_in_the_cron_database_itself_the_same_connection_reads_the_jobs(server, conn_to):
    conn = conn_to(server.url("postgres"))
    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
    conn.execute("SELECT cron.schedule_in_database('probe@postgres', '0 7 * * *', 'SELECT 3', 'postgres', "
                 "'maplatform_owner')")
    try:
        s = catalog.snapshot(conn)
    finally:
        conn.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = 'probe@postgres'")
    assert s["cron_job"]["probe"] == {"active": True, "command": "SELECT 3", "schedule": "0 7 * * *",
                                      "username": "maplatform_owner"}
    assert "cron" not in s["schema"] and "pg_cron" not in s["extension"]  # the extension's own objects
    assert not [n for objs in s.values() for n in objs if n.startswith("cron.")]  # its tables' policies too


def test_a_member_of_the_jobs_role_reads_the_jobs_as_that_role(migrated_db, server, conn_to):
    """pg_cron shows a role only its own jobs; dbtool schedules them as the owner of ops.cron_jobs,
    so a DBA who is not a superuser but a member of that role must still see them (as it)."""
    url = synced(migrated_db)
    superuser_view = snap(url)["cron_job"]
    cron_admin = conn_to(server.url("postgres"))
    cron_admin.execute("CREATE ROLE drift_member LOGIN IN ROLE maplatform_owner, pg_read_all_settings")
    cron_admin.execute("GRANT USAGE ON SCHEMA cron TO maplatform_owner")  # docs/cron.md: a non-superuser's set-up
    try:
        as_member = server.url(dbname(url), user="drift_member")
        member_view = snap_cmd.take(as_member).data["cron_job"]  # pg_cron's database is another one
        with psycopg.connect(server.url("postgres", user="drift_member"), autocommit=True) as cron_conn, \
                psycopg.connect(as_member, autocommit=True) as c, c.transaction(), cron_conn.transaction():
            in_callers_transaction = catalog.snapshot(c, cron_conn=cron_conn)["cron_job"]
            assert cron_conn.execute("SELECT current_user").fetchone()[0] == "drift_member"  # put back
    finally:
        cron_admin.execute("REVOKE USAGE ON SCHEMA cron FROM maplatform_owner")
        cron_admin.execute("DROP ROLE drift_member")
    assert member_view == in_callers_transaction == superuser_view and len(member_view) >= 6


def test_snapshot_command_writes_yaml_or_json_and_a_file(migrated_db, tmp_path, project):
    res = runner.invoke(app, ["snapshot", "-d", migrated_db, "--project", str(project.root)])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("# dbtool catalog snapshot") and "\nextension:\n" in res.stdout
    res = runner.invoke(app, ["snapshot", "-d", migrated_db, "--json", "--project", str(project.root)])
    doc = json.loads(res.stdout)
    assert doc["version"] and "timescaledb" in doc["snapshot"]["extension"]
    out = tmp_path / "sub" / "snap.yaml"
    res = runner.invoke(app, ["snapshot", "-d", migrated_db, "--out", str(out), "--project", str(project.root)])
    assert res.exit_code == 0 and snap_cmd.read_file(out).data == snap(migrated_db)


def test_snapshot_from_migrations_builds_and_drops_a_scratch_database(migrated_db, server, project):
    synced(migrated_db)
    built = snap_cmd.from_migrations(server.url("postgres"), project)
    assert not catalog.diff(snap(migrated_db), built.data)
    with server.admin() as c:
        assert not c.execute("SELECT datname FROM pg_database WHERE datname LIKE 'dbtool_scratch_%'").fetchall()
        assert not c.execute("SELECT jobname FROM cron.job WHERE database LIKE 'dbtool_scratch_%'").fetchall()


ONE_TABLE = ("0001_create_t", "-- Why: test.\nCREATE TABLE public.t (id int PRIMARY KEY);\n", "DROP TABLE public.t;\n")


def test_snapshot_from_migrations_builds_in_a_local_cluster_even_with_database_url_set(server, tmp_project):
    tmp_project.pair(*ONE_TABLE)
    with databases_created_on(server.url()) as created:
        res = runner.invoke(app, ["snapshot", "--from-migrations", "--project", str(tmp_project.path)],
                            env={"DATABASE_URL": server.url("postgres")})
    assert res.exit_code == 0, res.output
    assert "public.t:" in res.stdout and "# head: 0001_create_t" in res.stdout
    assert created == set()


def test_snapshot_from_migrations_with_server_url_builds_on_that_server(server, tmp_project):
    tmp_project.pair(*ONE_TABLE)
    with databases_created_on(server.url()) as created:
        res = runner.invoke(app, ["snapshot", "--from-migrations", "--server-url", server.url(),
                                  "--project", str(tmp_project.path)])
        assert res.exit_code == 0, res.output
        assert "public.t:" in res.stdout
        # what `SNAPSHOT_DATABASE_URL=... make snapshot` runs
        assert snapshot_command.main(["--server-url", server.url(), "--project", str(tmp_project.path)]) == 0
    assert len(created) == 2 and all(name.startswith("dbtool_scratch_") for name in created)  # both gone again
    assert snap_cmd.read_file(tmp_project.path / "schema" / "snapshot.yaml").version == "0001_create_t"


def test_snapshot_from_migrations_refuses_a_database_url_and_names_server_url(server, tmp_project):
    tmp_project.pair(*ONE_TABLE)
    res = runner.invoke(app, ["snapshot", "--from-migrations", "-d", server.url(), "--project", str(tmp_project.path)])
    said = " ".join(res.stderr.split())
    assert res.exit_code == 2 and "--from-migrations reads no database" in said and "--server-url URL" in said
    res = runner.invoke(app, ["snapshot", "-d", server.url(), "--server-url", server.url()])
    assert res.exit_code == 2 and "--server-url only makes sense with --from-migrations" in res.stderr


def test_a_varchar_in_list_compares_equal_before_and_after_a_dump_and_restore():
    from dbtool.catalog import canonical_expression
    written = "((stage)::text = ANY ((ARRAY['negotiation'::character varying, 'it''s'::character varying])::text[]))"
    restored = "((stage)::text = ANY (ARRAY[('negotiation'::character varying)::text, ('it''s'::character varying)::text]))"
    assert canonical_expression(written) == canonical_expression(restored)
    assert canonical_expression(restored) == "((stage)::text = ANY (ARRAY['negotiation'::text, 'it''s'::text]))"
    other = "((stage)::text = ANY (ARRAY['closing'::text]))"
    assert canonical_expression(other) == other
