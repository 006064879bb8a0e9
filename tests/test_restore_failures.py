"""A restore that cannot succeed says so in one line, exits non-zero, and leaves the target exactly
as it was: no rows, schema object or database setting changed, no temporary database left behind.

The target is a populated database and --yes is given (except where the refusal itself is what is
tested), so every failure below happens after restore has agreed to replace it: the strongest
case for "the target is untouched"."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from backup_support import RECIPIENT, databases, expected_rows, state
from dbtool import cluster, cron
from dbtool.backup import manifest as mf
from dbtool.cli import app
from dbtool.commands import backup as backup_cmd
from dbtool.commands import restore as restore_cmd
from dbtool.errors import DbtoolError

runner = CliRunner()


@pytest.fixture(scope="module")
def backups(server, seeded_template, gpg_keyring, tmp_path_factory):
    """One plain and one encrypted backup of a seeded database (a clone of the seeded template with
    its cron jobs scheduled, as after migrate), made once for this module."""
    name = f"bk_failures_source_{os.getpid()}"
    server.create_db(name, seeded_template)
    try:
        url = server.url(name)
        with psycopg.connect(url, autocommit=True) as c:
            cron.sync(url, c)
        folder = tmp_path_factory.mktemp("backups")
        plain = backup_cmd.backup(url, folder / "plain")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("GNUPGHOME", gpg_keyring["home"])
            encrypted = backup_cmd.backup(url, folder / "encrypted", encrypt_to=RECIPIENT)
        yield {"plain": Path(plain.archive), "encrypted": Path(encrypted.archive)}
    finally:
        server.drop_db(name)


@pytest.fixture
def target(migrated_db):
    """A database with content of its own that a failed restore must not touch."""
    with psycopg.connect(migrated_db, autocommit=True) as c:
        name = c.execute("SELECT current_database()").fetchone()[0]
        c.execute("CREATE TABLE public.precious (id int PRIMARY KEY, note text)")
        c.execute("INSERT INTO public.precious SELECT g, 'row ' || g FROM generate_series(1, 25) g")
        c.execute(f'ALTER DATABASE "{name}" SET work_mem = \'7MB\'')
    return migrated_db


def copy_backup(archive: Path, dest: Path) -> tuple[Path, Path]:
    """A private copy of a backup (archive and manifest) to damage."""
    dest.mkdir(parents=True, exist_ok=True)
    manifest = archive.parent / (mf.stem_of(archive.name) + mf.MANIFEST)
    return Path(shutil.copy(archive, dest)), Path(shutil.copy(manifest, dest))


def edit_manifest(path: Path, change) -> None:
    man = json.loads(path.read_text())
    change(man)
    path.write_text(json.dumps(man))


def reseal(archive: Path, manifest: Path) -> None:
    """Make the manifest agree with a damaged archive: only deeper checks can catch it now."""
    def change(man):
        man["archive"].update(bytes=archive.stat().st_size, sha256=mf.sha256_file(archive))
        man["dump"] = dict(man["archive"]) if not archive.name.endswith(".gpg") else man["dump"]
    edit_manifest(manifest, change)


def pg_restore_ok(path: Path, *args) -> bool:
    return subprocess.run([str(cluster.find_bindir() / "pg_restore"), *args, str(path)],
                          capture_output=True).returncode == 0


def damage_data_keeping_toc(archive: Path) -> None:
    """Zero 64 bytes of table data: the table of contents still reads (--list passes), the
    restore fails half-way. The offset is searched, not guessed, so archive layout changes do
    not break the test."""
    data = archive.read_bytes()
    for tenths in range(990, 500, -10):
        off = len(data) * tenths // 1000
        archive.write_bytes(data[:off] + b"\0" * 64 + data[off + 64:])
        if pg_restore_ok(archive, "--list") and not pg_restore_ok(archive, "--file", "/dev/null"):
            return
    pytest.fail("found no offset that damages data but not the table of contents")


def assert_failed_cleanly(res, code: int, message: str, target_url: str, before: tuple, dbs: set, server):
    assert res.exit_code == code, res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0], res.stderr  # one line says what is wrong
    assert "Traceback" not in res.output
    assert state(target_url) == before  # rows, schema, database settings: all as they were
    assert databases(server) == dbs     # no temporary or renamed-aside database left


def restore(archive: Path, url: str, *extra: str):
    return runner.invoke(app, ["restore", str(archive), "--database-url", url, *extra])


def restore_fails_cleanly(archive: Path, target: str, server, code: int, message: str, *extra: str):
    """Restore `archive` over `target` and assert it failed as assert_failed_cleanly() says."""
    before, dbs = state(target), databases(server)
    res = restore(archive, target, *extra)
    assert_failed_cleanly(res, code, message, target, before, dbs, server)
    return res


def test_truncated_archive(backups, target, server, tmp_path):
    archive, _ = copy_backup(backups["plain"], tmp_path)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    restore_fails_cleanly(archive, target, server, 3, "the archive is truncated", "--yes")


def test_corrupted_archive(backups, target, server, tmp_path):
    archive, _ = copy_backup(backups["plain"], tmp_path)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    restore_fails_cleanly(archive, target, server, 3, "does not match its manifest: sha256", "--yes")


def test_wrong_checksum_in_manifest(backups, target, server, tmp_path):
    archive, manifest = copy_backup(backups["plain"], tmp_path)
    edit_manifest(manifest, lambda m: m["archive"].update(sha256="0" * 64))
    restore_fails_cleanly(archive, target, server, 3, "does not match its manifest: sha256", "--yes")


def test_missing_secret_key(backups, gpg_keyring, target, server, tmp_path, monkeypatch):
    archive, _ = copy_backup(backups["encrypted"], tmp_path)
    monkeypatch.setenv("GNUPGHOME", gpg_keyring["public_only"])
    restore_fails_cleanly(archive, target, server, 3, "is not in the GnuPG keyring", "--yes")


def test_non_empty_target_without_yes(backups, target, server):
    res = restore_fails_cleanly(backups["plain"], target, server, 2, "is not empty (")
    assert "pass --yes to replace it" in res.stderr


def test_file_that_is_not_an_archive_with_a_matching_manifest(backups, target, server, tmp_path):
    archive, manifest = copy_backup(backups["plain"], tmp_path)
    archive.write_bytes(b"this is not a pg_dump archive\n" * 100)
    reseal(archive, manifest)
    restore_fails_cleanly(archive, target, server, 3, "is not a readable pg_dump archive", "--yes")


def test_damaged_table_data_fails_in_the_temporary_database(backups, target, server, tmp_path):
    archive, manifest = copy_backup(backups["plain"], tmp_path)
    damage_data_keeping_toc(archive)
    reseal(archive, manifest)
    res = restore_fails_cleanly(archive, target, server, 3, "pg_restore failed", "--yes")
    assert "temporary database was dropped" in res.stderr


def test_rows_that_do_not_match_the_manifest(backups, target, server, tmp_path):
    archive, manifest = copy_backup(backups["plain"], tmp_path)
    rows = expected_rows()["timeline.activity_timeline"]
    edit_manifest(manifest, lambda m: m["tables"]["timeline.activity_timeline"].update(rows=rows + 1))
    restore_fails_cleanly(archive, target, server, 3,
                          f"timeline.activity_timeline: {rows} rows, the manifest says {rows + 1}", "--yes")


def test_role_missing_on_the_target_server(backups, target, server, tmp_path):
    archive, manifest = copy_backup(backups["plain"], tmp_path)
    edit_manifest(manifest, lambda m: m["roles"].append("role_from_another_cluster"))
    restore_fails_cleanly(archive, target, server, 2, "do not exist on this server: role_from_another_cluster", "--yes")


def test_timescaledb_version_not_installed(backups, target, server, tmp_path):
    archive, manifest = copy_backup(backups["plain"], tmp_path)

    def older(m):
        m["timescaledb"]["version"] = "2.0.0"
        next(e for e in m["extensions"] if e["name"] == "timescaledb")["version"] = "2.0.0"
    edit_manifest(manifest, older)
    restore_fails_cleanly(archive, target, server, 2, "the archive needs TimescaleDB 2.0.0", "--yes")


def test_another_session_on_the_target_is_refused_before_any_work(backups, target, server):
    before, dbs = state(target), databases(server)
    with psycopg.connect(target, autocommit=True) as other:  # an application still connected
        res = restore(backups["plain"], target, "--yes")
        assert other.execute("SELECT count(*) FROM public.precious").fetchone()[0] == 25
    assert_failed_cleanly(res, 3, "other sessions are connected to it", target, before, dbs, server)
    assert "fetching" not in res.stderr  # refused before the archive was even read


def test_a_session_that_arrives_during_the_restore_blocks_the_swap_cleanly(backups, target, server):
    """The rename is refused; the verified copy is dropped and the target keeps its name and data."""
    before, dbs = state(target), databases(server)
    late = []

    def connect_late(event, subject, info):
        if event == "step" and subject.startswith("verifying"):
            late.append(psycopg.connect(target, autocommit=True))
    try:
        with pytest.raises(DbtoolError, match="cannot replace"):
            restore_cmd.restore(str(backups["plain"]), target, replace=True, progress=connect_late)
        assert late and late[0].execute("SELECT count(*) FROM public.precious").fetchone()[0] == 25
    finally:
        for c in late:
            c.close()
    assert state(target) == before and databases(server) == dbs


# ----- after the swap: nothing can fail the restore any more ------------------------------------

def restoring_setting(server, pattern: str) -> dict:
    """timescaledb.restoring as stored for the databases whose name matches `pattern` (LIKE)."""
    with server.admin() as c:
        return dict(c.execute("""SELECT d.datname, x FROM pg_database d
                                 JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0,
                                      unnest(s.setconfig) x
                                 WHERE d.datname LIKE %s AND x LIKE 'timescaledb.restoring=%%'""",
                              [pattern]).fetchall())


def test_the_copy_leaves_timescaledb_restoring_mode_before_it_is_verified_and_swapped(backups, target, server):
    """timescaledb_post_restore() runs in the temporary database: the target is never swapped in
    in restoring mode, whatever happens after the swap."""
    name = target.rsplit("/", 1)[1].split("?")[0]
    seen = {}

    def at_verification(event, subject, info):
        if event == "step" and subject.startswith("verifying"):
            with server.admin() as c:
                [tmpdb] = [r[0] for r in c.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                                   [name + r"\_restore\_%"])]
            seen.update(restoring_setting(server, tmpdb), checked=tmpdb)

    res = restore_cmd.restore(str(backups["plain"]), target, replace=True, progress=at_verification)

    assert seen.get("checked") and list(seen) == ["checked"], seen  # no restoring=on in the copy
    assert res.warnings == []  # TimescaleDB's workers, stopped by the rename, were started again
    assert restoring_setting(server, name) == {}
    with psycopg.connect(target) as c:
        assert c.execute("SHOW timescaledb.restoring").fetchone()[0] == "off"


def test_an_old_copy_that_cannot_be_dropped_is_a_warning_saying_what_to_drop(backups, target, server):
    """The restore itself succeeded: exit 0, the target is the backup's, and the warning names the
    database to drop by hand. The drop is made to fail for real by marking the renamed-aside
    database as a template (any failure of that DROP takes the same path; a connected session
    would too, after DROP DATABASE's 5 s wait)."""
    name = target.rsplit("/", 1)[1].split("?")[0]
    aside = []

    def block_the_drop(event, subject, info):
        if event == "step" and subject.startswith("dropping the previous"):
            with server.admin() as c:
                aside.extend(r[0] for r in c.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                                     [name + r"\_replaced\_%"]))
                c.execute(f'ALTER DATABASE "{aside[0]}" IS_TEMPLATE true')
    try:
        res = restore_cmd.restore(str(backups["plain"]), target, replace=True, progress=block_the_drop)
        assert len(aside) == 1
        [warning] = [w for w in res.warnings if aside[0] in w]
        assert "could not be dropped" in warning and f'DROP DATABASE "{aside[0]}"' in warning, warning
        with psycopg.connect(target) as c:
            assert c.execute("SELECT to_regclass('public.precious')").fetchone()[0] is None  # the backup's content
            assert c.execute("SHOW timescaledb.restoring").fetchone()[0] == "off"
        with psycopg.connect(server.url(aside[0])) as c:  # the old content is still there to recover
            assert c.execute("SELECT count(*) FROM public.precious").fetchone()[0] == 25
        assert res.cron is not None  # the step after the drop ran: cron jobs scheduled
    finally:
        with server.admin() as c:
            for db in aside:
                c.execute(f'ALTER DATABASE "{db}" IS_TEMPLATE false')
                c.execute(f'DROP DATABASE "{db}"')


# ----- a manifest is data, never SQL --------------------------------------------------------------

@pytest.fixture
def victim(server):
    """A role that a tampered manifest tries to make a superuser."""
    name = f"dbtool_victim_{os.getpid()}"
    with server.admin() as c:
        c.execute(f'DROP ROLE IF EXISTS "{name}"')
        c.execute(f'CREATE ROLE "{name}" NOLOGIN')
    yield name
    with server.admin() as c:
        c.execute(f'DROP ROLE "{name}"')


def is_superuser(server, role: str) -> bool:
    with server.admin() as c:
        return c.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role]).fetchone()[0]


def granting(privilege: str, grantee="PUBLIC"):
    def change(m, v):
        entry = {"grantee": grantee, "privilege": privilege.format(v=v), "grantable": False}
        m["database"]["acl"] = (m["database"]["acl"] or []) + [entry]
    return change


def table_named(name: str):
    return lambda m, v: m["tables"].update({name.format(v=v): {"rows": 0, "fingerprint": "0"}})


# Edits by whoever can write the backup folder; {v} is the victim role.
TAMPERED = {
    "privilege": (granting("CONNECT ON DATABASE postgres TO PUBLIC; ALTER ROLE {v} SUPERUSER; --"),
                  "database privilege 'CONNECT ON DATABASE postgres TO PUBLIC; ALTER ROLE"),
    "privilege keyword": (granting("ALL"), "database privilege 'ALL' is not CONNECT, CREATE or TEMPORARY"),
    "table name": (table_named("public.x; ALTER ROLE {v} SUPERUSER; --"), "table name 'public.x; ALTER ROLE"),
    "unqualified table": (table_named("x"), "table name 'x' is not"),
    "archive outside the folder": (lambda m, v: m["archive"].update(file=f"../../{v}.dump"), "archive file '../../"),
    "grantee not a name": (granting("CONNECT", grantee=7), "grantee 7 is not"),
}


@pytest.mark.parametrize("tamper", TAMPERED.values(), ids=TAMPERED.keys())
def test_a_tampered_manifest_is_refused_before_anything_runs_and_no_role_changes(backups, target, server,
                                                                                  tmp_path, victim, tamper):
    change, message = tamper
    _, manifest = copy_backup(backups["plain"], tmp_path)
    edit_manifest(manifest, lambda m: change(m, victim))
    res = restore_fails_cleanly(manifest, target, server, 3, "refusing the manifest", "--yes")
    assert message in res.stderr
    assert "a manifest dbtool writes never holds this" in res.stderr  # the hint says why
    assert "fetching" not in res.stderr  # refused before the archive was even read
    assert not is_superuser(server, victim)
