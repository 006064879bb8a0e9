"""Where backups live: a local folder or an S3 prefix, behind the same five operations.

S3 means any S3-compatible store. boto3 finds everything the standard way: the endpoint from
AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (MinIO, Ceph, R2, a test server), credentials and region
from the usual chain (environment, ~/.aws, instance role).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import DbtoolError, UsageError


@dataclass
class Entry:
    name: str
    size: int
    modified: datetime


class LocalDir:
    def __init__(self, path: Path):
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def url(self, name: str) -> str:
        return str(self.path / name)

    def list(self) -> list[Entry]:
        if not self.path.is_dir():
            raise UsageError(f"backup folder {self.path} does not exist")
        return [Entry(p.name, st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc))
                for p in sorted(self.path.iterdir()) if p.is_file() and (st := p.stat())]

    def read_text(self, name: str) -> str:
        try:
            return (self.path / name).read_text()
        except FileNotFoundError:
            raise UsageError(f"{self.path / name} does not exist") from None

    def fetch(self, name: str, workdir: Path) -> Path:
        """A local file is used where it is: no copy of a large archive."""
        p = self.path / name
        if not p.is_file():
            raise UsageError(f"{p} does not exist")
        return p

    def delete(self, names: list[str]) -> None:
        for n in names:
            (self.path / n).unlink(missing_ok=True)


class S3Prefix:
    def __init__(self, bucket: str, prefix: str):
        self.bucket = bucket
        self.prefix = prefix
        self._client = None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def url(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}"

    @property
    def client(self):
        if self._client is None:
            import boto3  # imported here: only S3 users pay for it
            self._client = boto3.client("s3")
        return self._client

    def list(self) -> list[Entry]:
        entries = []
        with s3_errors(self):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/")
            for page in pages:
                for o in page.get("Contents", []):
                    entries.append(Entry(o["Key"][len(self.prefix):], o["Size"], o["LastModified"]))
        return entries

    def read_text(self, name: str) -> str:
        with s3_errors(self, name):
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)["Body"].read().decode()

    def fetch(self, name: str, workdir: Path) -> Path:
        dest = workdir / name
        with s3_errors(self, name):
            self.client.download_file(self.bucket, self.prefix + name, str(dest))
        return dest

    def put(self, path: Path, name: str, storage_class: str | None = None) -> None:
        extra = {"StorageClass": storage_class} if storage_class else {}
        with s3_errors(self, name):
            self.client.upload_file(str(path), self.bucket, self.prefix + name, ExtraArgs=extra or None)

    def delete(self, names: list[str]) -> None:
        for i in range(0, len(names), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": self.prefix + n} for n in names[i:i + 1000]]
            with s3_errors(self):
                res = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            if res.get("Errors"):
                e = res["Errors"][0]
                raise DbtoolError(f"cannot delete s3://{self.bucket}/{e['Key']}: {e.get('Message', e.get('Code'))}")


def parse(location: str) -> LocalDir | S3Prefix:
    """A folder, or s3://bucket[/prefix] (the prefix is a folder: a trailing / is implied)."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[5:].partition("/")
        if not bucket:
            raise UsageError(f"{location!r}: no bucket name", hint="use s3://bucket/prefix")
        prefix = prefix.strip("/")
        return S3Prefix(bucket, prefix + "/" if prefix else "")
    if "://" in location:
        raise UsageError(f"{location!r}: only local folders and s3:// URLs are supported")
    return LocalDir(Path(location))


def split(path: str) -> tuple[LocalDir | S3Prefix, str]:
    """An archive or manifest's location and file name."""
    if path.startswith("s3://"):
        head, _, name = path.rpartition("/")
        if not name or head == "s3:/":
            raise UsageError(f"{path!r} names no file", hint="use s3://bucket/prefix/NAME.dump")
        return parse(head), name
    p = Path(path)
    return LocalDir(p.parent), p.name


class s3_errors:
    """boto's exceptions as one line that says what to do."""

    def __init__(self, where: S3Prefix, name: str = ""):
        self.where, self.name = where, name

    def __enter__(self):
        return self

    def __exit__(self, et, exc, tb):
        if exc is None or isinstance(exc, DbtoolError):
            return False
        from botocore import exceptions as bx
        what = self.where.url(self.name) if self.name else str(self.where)
        if isinstance(exc, bx.NoCredentialsError):
            raise UsageError(f"{what}: no AWS credentials found",
                             hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE") from None
        if isinstance(exc, bx.EndpointConnectionError):
            endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "AWS"
            raise DbtoolError(f"{what}: cannot reach the S3 endpoint {endpoint}",
                              hint="check AWS_ENDPOINT_URL(_S3) and the network") from None
        if isinstance(exc, bx.ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            if code in ("NoSuchBucket",):
                raise UsageError(f"{what}: bucket {self.where.bucket!r} does not exist") from None
            if code in ("NoSuchKey", "404", "NotFound"):
                raise UsageError(f"{what} does not exist") from None
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise DbtoolError(f"{what}: access denied ({code})",
                                  hint="check the credentials and the bucket policy") from None
            raise DbtoolError(f"{what}: {code} {err.get('Message', '')}".strip()) from None
        if isinstance(exc, bx.BotoCoreError):
            raise DbtoolError(f"{what}: {exc}") from None
        return False
