"""`dbtool tenant key add|list|retire` and `dbtool tenant token`: the signing keys of the verified
tenant context and tokens for operators (docs/roles.md). They call the project's SQL functions,
which only the schema's owner role (or a member) may run; a key's secret is never printed."""

from __future__ import annotations

import os
import re
import secrets
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from .. import db
from ..config import Project
from ..errors import DbtoolError, UsageError
from ..tenant_token import KEY_ID_RE, MAX_TTL

# The project's functions and keys table, overridable in [tool.dbtool.tenancy].
DEFAULTS = {"add_key_function": "app.add_tenant_key", "retire_key_function": "app.retire_tenant_key",
            "mint_function": "app.mint_tenant_token", "keys_table": "app_private.tenant_keys",
            "tokens_table": "app.tenant_tokens"}
TTL_RE = re.compile(r"^(\d+)\s*(s|m|min|h)?$")


@dataclass
class Key:
    key_id: str
    created_at: datetime
    retired_at: datetime | None
    tokens: int

    def as_dict(self) -> dict:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["retired_at"] = self.retired_at.isoformat() if self.retired_at else None
        return d


@dataclass
class Keys:
    keys: list[Key]

    def as_dict(self) -> dict:
        return {"keys": [k.as_dict() for k in self.keys]}

    def lines(self, quiet: bool = False) -> list[str]:
        return [f"{k.key_id:<20} added {k.created_at:%Y-%m-%d %H:%M}  "
                f"{f'retired {k.retired_at:%Y-%m-%d %H:%M}' if k.retired_at else 'active'}  {k.tokens} live token(s)"
                for k in self.keys]


@dataclass
class KeyChange:
    """A key added (with where its new secret went) or retired (with how many tokens were forgotten)."""

    key_id: str
    secret_file: Path | None = None
    tokens_forgotten: int | None = None

    def as_dict(self) -> dict:
        if self.tokens_forgotten is not None:
            return {"key_id": self.key_id, "tokens_forgotten": self.tokens_forgotten}
        return {"key_id": self.key_id, "secret_file": str(self.secret_file) if self.secret_file else None}

    def lines(self, quiet: bool = False) -> list[str]:
        if self.tokens_forgotten is not None:
            return [f"retired tenant key {self.key_id}; {self.tokens_forgotten} registered token(s) forgotten"]
        return [f"added tenant key {self.key_id}" + (f"; its secret is in {self.secret_file}" if self.secret_file
                                                     else "")]


@dataclass
class Token:
    tenant: str
    token: str

    def as_dict(self) -> dict:
        expires = int(self.token.split(".")[2])
        return {"tenant": self.tenant, "token": self.token, "expires_at": expires,
                "expires_in": expires - int(time.time())}

    def lines(self, quiet: bool = False) -> list[str]:
        return [self.token]


def names(project: Project | None) -> dict:
    return {**DEFAULTS, **(project.section("tenancy") if project else {})}


def add_key(url: str, project: Project | None, key_id: str, out: Path | None = None,
            secret_file: Path | None = None) -> KeyChange:
    """Add a signing key: a new random secret written to `out` (mode 0600, never overwritten), or an
    existing one read from `secret_file` (hex); the result says where the new secret was written."""
    _check_key_id(key_id)
    if (out is None) == (secret_file is None):
        raise UsageError("give --out FILE for a new secret, or --secret-file FILE to add an existing one",
                         hint="the application's trusted side needs the secret; dbtool never prints it")
    secret = _read_secret(secret_file) if secret_file else secrets.token_bytes(32)
    if out is not None:
        _write_secret(out, secret)
    try:
        _call(url, names(project)["add_key_function"], [key_id, secret])
    except DbtoolError:
        if out is not None:
            out.unlink(missing_ok=True)
        raise
    return KeyChange(key_id, secret_file=out)


def list_keys(url: str, project: Project | None) -> Keys:
    n = names(project)
    query = sql.SQL("""SELECT k.key_id, k.created_at, k.retired_at,
                              (SELECT count(*) FROM {tokens} t WHERE t.key_id = k.key_id AND t.expires_at > now())
                       FROM {keys} k ORDER BY k.created_at, k.key_id""").format(
        keys=_name(n["keys_table"]), tokens=_name(n["tokens_table"]))
    with db.connection(url) as conn:
        try:
            return Keys([Key(*row) for row in conn.execute(query)])
        except psycopg.Error as exc:
            raise _failure(exc, n["keys_table"]) from None


def retire_key(url: str, project: Project | None, key_id: str) -> KeyChange:
    """Retire a key; the tokens it signed stop working at once (the result says how many were forgotten)."""
    _check_key_id(key_id)
    return KeyChange(key_id, tokens_forgotten=_call(url, names(project)["retire_key_function"], [key_id]))


def token(url: str, project: Project | None, tenant: str, ttl: str = "15m", key_id: str | None = None) -> Token:
    try:
        tenant_id = uuid.UUID(tenant)
    except ValueError:
        raise UsageError(f"tenant {tenant!r} is not a uuid", hint="give the tenant's id") from None
    seconds = ttl_seconds(ttl)
    return Token(tenant, _call(url, names(project)["mint_function"], [tenant_id, f"{seconds} seconds", key_id]))


def ttl_seconds(ttl: str) -> int:
    m = TTL_RE.match(ttl.strip())
    if not m:
        raise UsageError(f"--ttl {ttl!r} is not a duration", hint="e.g. 900, 15m, 8h")
    seconds = int(m[1]) * {"s": 1, None: 1, "m": 60, "min": 60, "h": 3600}[m[2]]
    if not 0 < seconds <= MAX_TTL:
        raise UsageError(f"--ttl {ttl} is not between 1 second and 24 hours", hint="tokens are short-lived")
    return seconds


def _call(url: str, function: str, args: list):
    query = sql.SQL("SELECT {}({})").format(_name(function), sql.SQL(", ").join(sql.Placeholder() * len(args)))
    with db.connection(url) as conn:
        try:
            return conn.execute(query, args).fetchone()[0]
        except psycopg.Error as exc:
            raise _failure(exc, function) from None


def _failure(exc: psycopg.Error, what: str) -> DbtoolError:
    err = db.server_error(exc)
    if getattr(exc, "sqlstate", "") in ("42501", "3F000", "42883", "42P01"):
        err.hint = (f"{what} belongs to the schema's owner role: connect as a member of it (or a superuser), "
                    "on a database migrated past 0017")
    return err


def _name(dotted: str) -> sql.Identifier:
    return sql.Identifier(*dotted.split("."))


def _check_key_id(key_id: str) -> None:
    if not KEY_ID_RE.match(key_id):
        raise UsageError(f"key id {key_id!r} is not valid", hint="use 1-32 of a-z, 0-9, _ and -, e.g. 2026-12")


def _read_secret(path: Path) -> bytes:
    try:
        secret = bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read a hex secret from {path}: {exc}", hint="the file holds the key as hex") from None
    if len(secret) < 32:
        raise UsageError(f"{path}: a tenant key needs at least 32 bytes (64 hex digits)")
    return secret


def _write_secret(path: Path, secret: bytes) -> None:
    """Created 0600 from the first byte on; an existing file is never replaced."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} exists; dbtool never overwrites a key file", hint="choose another --out") from None
    except OSError as exc:
        raise UsageError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(secret.hex() + "\n")
