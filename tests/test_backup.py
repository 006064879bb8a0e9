"""dbtool backup and restore round trips on the real cluster: same rows, same schema, the hypertable
and the cron jobs back; the manifest; gpg; migrate --backup-first."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from backup_support import (RECIPIENT, chunks, cron_jobs, content, databases, database_props, expected_rows, qualified,
                            hypertables, pg_restore_list, schema, seed_cmd)
from cli_support import run
from dbtool import catalog, ledger
from dbtool.backup import manifest as mf
from dbtool.commands import backup as backup_cmd
from dbtool.commands import restore as restore_cmd
from dbtool.errors import UsageError


def schema_diff(a: str, b: str) -> list:
    """What `dbtool drift` would report between the two databases."""
    return catalog.diff(schema(a), schema(b))


def one_backup(folder: Path) -> tuple[Path, dict]:
    manifests = list(folder.glob("*" + mf.MANIFEST))
    assert len(manifests) == 1, list(folder.iterdir())
    man = json.loads(manifests[0].read_text())
    return folder / man["archive"]["file"], man


def test_round_trip_gives_same_rows_schema_hypertable_settings_and_cron_jobs(seeded_db, empty_db, server, tmp_path):
    with psycopg.connect(seeded_db, autocommit=True) as c:  # database-level properties pg_dump leaves out
        name = c.execute("SELECT current_database()").fetchone()[0]
        c.execute(f'ALTER DATABASE "{name}" SET work_mem = \'12MB\'')
        c.execute(f'ALTER DATABASE "{name}" SET search_path = "$user", public, app')
        c.execute(f'REVOKE CONNECT, TEMPORARY ON DATABASE "{name}" FROM PUBLIC')
    before = databases(server)
    res = run("backup", "-d", seeded_db, "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    archive, _ = one_backup(tmp_path)

    res = run("restore", str(archive), "--database-url", empty_db)

    assert res.exit_code == 0, res.output
    restored = content(empty_db)
    assert restored == content(seeded_db)  # rows and md5 of every table, sequences
    app_tables = {qualified(t) for t in seed_cmd.TABLES}
    assert {t: restored[t][0] for t in app_tables} == expected_rows()  # each of the 19 has its rows
    assert schema_diff(seeded_db, empty_db) == []  # `dbtool drift` between them: none
    timeline = chunks(empty_db, "timeline.activity_timeline")
    assert timeline == chunks(seeded_db, "timeline.activity_timeline")  # same chunks, ranges and rows
    assert hypertables(empty_db) == hypertables(seeded_db)
    assert hypertables(empty_db)["timeline.activity_timeline"] == len(timeline)
    assert len(timeline) > 1 and all(n > 0 for *_, n in timeline)
    assert all(name.startswith("timeline_chunks.") for name, *_ in timeline)
    with psycopg.connect(empty_db) as c:
        assert c.execute("SHOW timescaledb.restoring").fetchone()[0] == "off"
    source, target = seeded_db.rsplit("/", 1)[1], empty_db.rsplit("/", 1)[1]
    jobs = cron_jobs(server, target)
    by_job = lambda scheduled: {j.split("@")[0]: v for j, v in scheduled.items()}  # noqa: E731
    with psycopg.connect(seeded_db) as c:
        declared = {r[0] for r in c.execute("SELECT jobname FROM ops.cron_jobs")}
    assert {"refresh_pipeline_analytics", "cleanup_tenant_tokens", "fixture_paused"} <= declared
    assert set(jobs) == {f"{j}@{target}" for j in declared}
    assert by_job(jobs) == by_job(cron_jobs(server, source))  # same schedule, command, active
    assert by_job(jobs)["fixture_paused"][2] is False
    assert database_props(empty_db)[:2] == database_props(seeded_db)[:2]
    assert databases(server) == before  # no temporary database left behind


def test_manifest_records_versions_migrations_rows_and_the_archive_sha256(seeded_db, tmp_path):
    res = backup_cmd.backup(seeded_db, tmp_path)

    archive, man = one_backup(tmp_path)
    assert res.archive == str(archive) and archive.name.endswith(".dump")
    assert man["archive"]["sha256"] == mf.sha256_file(archive) and man["archive"]["bytes"] == archive.stat().st_size
    assert pg_restore_list(archive).returncode == 0  # a real custom-format archive
    with psycopg.connect(seeded_db) as c:
        assert man["migrations"] == list(ledger.applied(c))
        assert man["server_version_num"] == int(c.execute("SHOW server_version_num").fetchone()[0])
        versions = dict(c.execute("SELECT extname, extversion FROM pg_extension").fetchall())
        counts = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in man["tables"]}
        license_ = c.execute("SELECT current_setting('timescaledb.license')").fetchone()[0]
    assert {e["name"]: e["version"] for e in man["extensions"]} == versions
    assert man["timescaledb"]["edition"] == license_ in ("apache", "timescale")
    assert set(man["timescaledb"]["hypertables"]) == set(hypertables(seeded_db))
    assert sorted(man["timescaledb"]["hypertables"]) == ["audit.events", "timeline.activity_timeline"]
    assert {t: v["rows"] for t, v in man["tables"].items()} == counts
    assert {t: counts[t] for t in expected_rows()} == expected_rows()  # every application table
    assert counts["fixture.values_not_in_the_schema"] == 40 and counts["ops.cron_jobs"] > 1
    assert man["created_at"].endswith("Z") and man["dbtool_version"]
    assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {0o600}  # every tenant's data: owner only


def test_backup_prints_a_progress_line_per_table_on_stderr(seeded_db, tmp_path):
    res = run("backup", "-d", seeded_db, "--out", str(tmp_path))
    assert res.exit_code == 0
    assert "dumping public.deals" in res.stderr and "dumping timeline_chunks._hyper_" in res.stderr
    assert "] dumping" in res.stderr
    assert "backed up" in res.stdout and "dumping" not in res.stdout


def test_encrypted_backup_is_unreadable_without_the_key_and_restores_with_it(seeded_db, db_factory, gpg_home,
                                                                               monkeypatch, tmp_path):
    res = run("backup", "-d", seeded_db, "--out", str(tmp_path), "--encrypt-to", RECIPIENT, "--json")
    assert res.exit_code == 0, res.output
    archive, man = one_backup(tmp_path)
    assert archive.name.endswith(".dump.gpg") and json.loads(res.stdout)["encrypted_to"] == RECIPIENT
    data = archive.read_bytes()
    assert not data.startswith(b"PGDMP")
    for plain_in_a_dump in (b"timeline_chunks", b"activity_timeline", b"fixture"):  # a plain TOC names them
        assert plain_in_a_dump not in data
    assert pg_restore_list(archive).returncode != 0
    assert not list(tmp_path.glob("*.dump"))  # no plain copy was left on disk
    assert man["archive"]["sha256"] == mf.sha256_file(archive) and man["dump"]["sha256"] != man["archive"]["sha256"]

    target = db_factory()
    monkeypatch.setenv("GNUPGHOME", gpg_home["public_only"])
    res = run("restore", str(archive), "-d", target)
    assert res.exit_code == 3 and "the secret key" in res.stderr and "is not in the GnuPG keyring" in res.stderr

    monkeypatch.setenv("GNUPGHOME", gpg_home["home"])
    res = run("restore", str(archive), "-d", target)
    assert res.exit_code == 0, res.output
    assert content(target) == content(seeded_db)


def test_unknown_recipient_fails_before_anything_is_written(seeded_db, gpg_home, tmp_path):
    res = run("backup", "-d", seeded_db, "--out", str(tmp_path), "--encrypt-to", "nobody@example.invalid")
    assert res.exit_code == 2
    assert res.stderr.startswith("error: no public key for 'nobody@example.invalid'")
    assert list(tmp_path.iterdir()) == []


def test_restore_into_a_database_that_does_not_exist_creates_it(seeded_db, server, tmp_path):
    backup_cmd.backup(seeded_db, tmp_path)
    archive, man = one_backup(tmp_path)
    name = "bk_created_" + tmp_path.name[-8:].replace("-", "_")
    try:
        res = restore_cmd.restore(str(archive.with_name(archive.name.replace(".dump", mf.MANIFEST))),
                                  server.url(name))  # the manifest's path works as well as the archive's
        assert res.created and not res.replaced and res.rows == sum(t["rows"] for t in man["tables"].values())
        assert content(server.url(name)) == content(seeded_db)
    finally:
        server.drop_db(name)


def test_yes_replaces_a_non_empty_database_and_drops_the_old_one(seeded_db, migrated_db, server, tmp_path):
    backup_cmd.backup(seeded_db, tmp_path)
    archive, _ = one_backup(tmp_path)
    with psycopg.connect(migrated_db, autocommit=True) as c:
        c.execute("CREATE TABLE public.old_only (x int); INSERT INTO public.old_only VALUES (1)")
    before = databases(server)

    res = run("restore", str(archive), "-d", migrated_db, "--yes", "--json")

    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["replaced"] is True
    assert content(migrated_db) == content(seeded_db)  # old_only is gone with the old database
    assert databases(server) == before


def test_a_no_at_the_prompt_refuses_and_a_yes_replaces(seeded_db, migrated_db, tmp_path):
    backup_cmd.backup(seeded_db, tmp_path)
    archive, _ = one_backup(tmp_path)
    asked = []
    with pytest.raises(UsageError, match="is not empty"):
        restore_cmd.restore(str(archive), migrated_db, confirm=lambda q: asked.append(q) or False)
    assert "Replace it with the backup?" in asked[0] and "dropped once the restored copy is verified" in asked[0]
    res = restore_cmd.restore(str(archive), migrated_db, confirm=lambda q: True)
    assert res.replaced and content(migrated_db) == content(seeded_db)


def test_migrate_backup_first_backs_up_only_when_something_is_pending(tmp_project, empty_db, tmp_path):
    tmp_project.pair("0001_create_a", "-- Why: test.\nCREATE TABLE public.a (id int);\n", "DROP TABLE public.a;\n")
    out = tmp_path / "pre"
    res = run("migrate", "-d", empty_db, "--project", str(tmp_project.path), "--backup-first", "--backup-dir", str(out))
    assert res.exit_code == 0, res.output
    archive, man = one_backup(out)
    assert man["migrations"] == [] and "backup before migrating" in res.stderr  # taken before applying
    with psycopg.connect(empty_db) as c:
        assert c.execute("SELECT to_regclass('public.a')").fetchone()[0] == "a"

    res = run("migrate", "-d", empty_db, "--project", str(tmp_project.path), "--backup-first", "--backup-dir", str(out))
    assert res.exit_code == 0
    assert len(list(out.glob("*" + mf.MANIFEST))) == 1  # nothing pending: no second backup


def failing_pg_dump(folder: Path) -> str:
    """A pg_dump that writes half a file and fails, as one does when the server goes away."""
    folder.mkdir()
    (folder / "pg_dump").write_text("#!/bin/sh\n"
                                  "[ \"$1\" = --version ] && { echo 'pg_dump (PostgreSQL) 99.0'; exit 0; }\n"
                                  "for a; do case $a in --file=*) f=${a#--file=};; esac; done\n"
                                  "echo 'half an archive' > \"$f\"\n"
                                  "echo 'pg_dump: error: query failed: simulated' >&2; exit 1\n")
    (folder / "pg_dump").chmod(0o755)
    return str(folder)


def test_a_failed_dump_leaves_no_file(seeded_db, tmp_path, monkeypatch):
    monkeypatch.setenv("PG_BINDIR", failing_pg_dump(tmp_path / "bin"))
    out = tmp_path / "out"
    res = run("backup", "-d", seeded_db, "--out", str(out))
    assert res.exit_code == 3 and "error: pg_dump failed: query failed: simulated" in res.stderr
    assert list(out.iterdir()) == []  # no .partial, no manifest


def test_migrate_backup_first_migrates_nothing_when_the_backup_fails(tmp_project, empty_db, tmp_path, monkeypatch):
    tmp_project.pair("0001_create_a", "-- Why: test.\nCREATE TABLE public.a (id int);\n", "DROP TABLE public.a;\n")
    monkeypatch.setenv("PG_BINDIR", failing_pg_dump(tmp_path / "bin"))
    res = run("migrate", "-d", empty_db, "--project", str(tmp_project.path), "--backup-first",
              "--backup-dir", str(tmp_path / "pre"))
    assert res.exit_code == 3 and "pg_dump failed" in res.stderr
    with psycopg.connect(empty_db) as c:
        assert c.execute("SELECT to_regclass('public.a')").fetchone()[0] is None


def test_migrate_backup_first_rejects_a_bad_timeout_before_dumping(tmp_project, empty_db, tmp_path):
    tmp_project.pair("0001_create_a", "-- Why: test.\nCREATE TABLE public.a (id int);\n", "DROP TABLE public.a;\n")
    out = tmp_path / "pre"
    res = run("migrate", "-d", empty_db, "--project", str(tmp_project.path), "--backup-first",
              "--backup-dir", str(out), "--lock-timeout", "bogus")
    assert res.exit_code == 2 and "bogus" in res.stderr, res.output
    assert not out.exists() or list(out.iterdir()) == []  # no dump was taken for a run that cannot start


def test_restore_needs_an_explicit_target():
    res = run("restore", "x.dump", env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert res.exit_code == 2 and "restore needs --database-url" in res.stderr


@pytest.mark.parametrize("name", ["postgres", "template1"])
def test_restore_refuses_maintenance_databases(server, name):
    res = run("restore", "x.dump", "-d", server.url(name))
    assert res.exit_code == 2 and "maintenance database" in res.stderr
