"""Backups on S3 (a real S3-compatible server, moto, on loopback) and in folders: upload, list,
restore from s3://, and prune by age."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from backup_support import content
from cli_support import run
from dbtool.backup import manifest as mf
from dbtool.commands import backup as backup_cmd

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def keys(client, bucket: str, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def fake_backup(database: str, days_old: float, *, encrypted: bool = False) -> tuple[str, dict[str, bytes]]:
    """A backup set (manifest + archive bytes) dated days_old ago; prune reads only the manifest."""
    at = NOW - timedelta(days=days_old)
    stem = mf.stem_for(database, at)
    archive = stem + (mf.ENCRYPTED if encrypted else mf.ARCHIVE)
    man = {"format": mf.FORMAT, "created_at": at.isoformat().replace("+00:00", "Z"),
           "database": {"name": database}, "archive": {"file": archive}}
    return stem, {archive: b"PGDMP fake archive", stem + mf.MANIFEST: json.dumps(man).encode()}


def write_sets(folder: Path, *sets) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for _, files in sets:
        for name, data in files.items():
            (folder / name).write_bytes(data)


def test_upload_with_storage_class_then_list_and_restore_from_s3(seeded_db, empty_db, s3, tmp_path, monkeypatch):
    client, bucket = s3
    monkeypatch.chdir(tmp_path)
    res = run("backup", "-d", seeded_db, "--upload", f"s3://{bucket}/daily", "--storage-class", "STANDARD_IA",
              "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["archive"].startswith(f"s3://{bucket}/daily/") and out["archive"].endswith(".dump")
    archive_key = out["archive"].split(f"s3://{bucket}/", 1)[1]
    assert keys(client, bucket) == sorted([archive_key, archive_key.replace(".dump", mf.MANIFEST)])
    assert client.head_object(Bucket=bucket, Key=archive_key)["StorageClass"] == "STANDARD_IA"
    assert list(tmp_path.iterdir()) == []  # nothing kept locally (not even in ./backups)

    res = run("backup", "list", f"s3://{bucket}/daily", "--json")
    assert res.exit_code == 0, res.output
    [listed] = json.loads(res.stdout)
    assert listed["complete"] and listed["archive"] == out["archive"] and listed["bytes"] == out["bytes"]

    res = run("restore", out["archive"], "-d", empty_db)
    assert res.exit_code == 0, res.output
    assert content(empty_db) == content(seeded_db)


def test_backup_kept_locally_and_uploaded(seeded_db, s3, tmp_path):
    client, bucket = s3
    res = backup_cmd.backup(seeded_db, tmp_path, upload=f"s3://{bucket}")
    assert Path(res.archive).is_file() and Path(res.manifest).is_file()
    assert res.uploaded == [f"s3://{bucket}/{Path(res.archive).name}", f"s3://{bucket}/{Path(res.manifest).name}"]
    assert keys(client, bucket) == sorted([Path(res.archive).name, Path(res.manifest).name])


def test_prune_s3_by_manifest_date_keeps_recent_and_unrelated_objects(s3):
    client, bucket = s3
    old1, old2, recent = fake_backup("maplatform", 45), fake_backup("maplatform", 31), fake_backup("maplatform", 2)
    for _, files in (old1, old2, recent):
        for name, data in files.items():
            client.put_object(Bucket=bucket, Key="db/" + name, Body=data)
    client.put_object(Bucket=bucket, Key="db/README.txt", Body=b"not a backup")
    client.put_object(Bucket=bucket, Key="other/" + next(iter(old1[1])), Body=b"another prefix")

    res = run("backup", "prune", f"s3://{bucket}/db", "--keep-days", "30", "--dry-run", "--json")
    assert res.exit_code == 0, res.output
    assert sorted(d["name"] for d in json.loads(res.stdout)["deleted"]) == sorted([old1[0], old2[0]])
    assert len(keys(client, bucket)) == 8  # a dry run deletes nothing

    res = run("backup", "prune", f"s3://{bucket}/db", "--keep-days", "30")
    assert res.exit_code == 0, res.output
    assert "2 backup(s) deleted, 1 kept" in res.stdout
    assert keys(client, bucket, "db/") == sorted(["db/" + n for n in recent[1]] + ["db/README.txt"])
    assert keys(client, bucket, "other/") == ["other/" + next(iter(old1[1]))]


def test_prune_folder_keeps_the_newest_backup_of_each_database_even_when_old(tmp_path):
    a_old, a_older, b_old = fake_backup("app", 40), fake_backup("app", 50), fake_backup("billing", 60)
    write_sets(tmp_path, a_old, a_older, b_old)

    res = backup_cmd.prune(str(tmp_path), 30)

    assert sorted(d["name"] for d in res.deleted) == [a_older[0]]  # backups stopped: the last one stays
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*a_old[1], *b_old[1]])


def test_prune_keep_last_larger_than_the_backups_there_keeps_them_all(tmp_path):
    sets = [fake_backup("app", 40), fake_backup("app", 50), fake_backup("app", 60)]
    write_sets(tmp_path, *sets)

    res = backup_cmd.prune(str(tmp_path), 30, keep_last=4)

    assert res.deleted == [] and res.kept == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for _, files in sets for n in files)


def test_prune_folder_dates_leftovers_by_file_time_and_ignores_other_files(tmp_path):
    recent = fake_backup("app", 1)
    write_sets(tmp_path, recent)
    old_partial = tmp_path / (mf.stem_for("app", NOW - timedelta(days=40)) + ".dump.partial")
    new_partial = tmp_path / (mf.stem_for("app", NOW) + ".dump.partial")
    notes = tmp_path / "notes.txt"
    for p in (old_partial, new_partial, notes):
        p.write_bytes(b"x")
    forty_days_ago = (NOW - timedelta(days=40)).timestamp()
    for p in (old_partial, notes):
        os.utime(p, (forty_days_ago, forty_days_ago))

    res = run("backup", "prune", str(tmp_path), "--keep-days", "30")

    assert res.exit_code == 0, res.output
    assert not old_partial.exists() and new_partial.exists() and notes.exists()
    assert all((tmp_path / n).exists() for n in recent[1])


def test_list_folder_shows_encrypted_and_incomplete_backups(tmp_path):
    done, enc = fake_backup("app", 3), fake_backup("app", 2, encrypted=True)
    write_sets(tmp_path, done, enc)
    interrupted = tmp_path / (mf.stem_for("app", NOW) + ".dump.partial")
    interrupted.write_bytes(b"x")

    res = run("backup", "list", str(tmp_path))

    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    names = [next(w for w in ln.split() if w.startswith("app_")) for ln in lines]
    assert names == [done[0], enc[0], mf.stem_of(interrupted.name)]  # oldest first
    assert lines[1].endswith("encrypted") and lines[2].endswith("incomplete") and "encrypted" not in lines[0]


def test_s3_errors_are_one_line(s3, monkeypatch, tmp_path):
    client, bucket = s3
    res = run("backup", "list", "s3://no-such-bucket-here/x")
    assert res.exit_code == 2 and res.stderr.startswith("error: s3://no-such-bucket-here/x/: bucket")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    res = run("backup", "list", f"s3://{bucket}")
    assert res.exit_code == 3 and "cannot reach the S3 endpoint http://127.0.0.1:9" in res.stderr
    assert "Traceback" not in res.output


def test_upload_needs_an_s3_url_and_storage_class_needs_upload(seeded_db, tmp_path):
    res = run("backup", "-d", seeded_db, "--upload", str(tmp_path))
    assert res.exit_code == 2 and "expected s3://bucket/prefix" in res.stderr
    res = run("backup", "-d", seeded_db, "--storage-class", "STANDARD_IA")
    assert res.exit_code == 2 and "--storage-class needs --upload" in res.stderr
    assert list(tmp_path.iterdir()) == []
