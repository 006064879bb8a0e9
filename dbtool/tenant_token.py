"""Tenant tokens for the trusted side of an application (docs/roles.md).

The database trusts no tenant id the application names: it trusts a token signed with a key it
shares with the application's trusted code. Mint one per tenant and reuse it until it nears expiry
(`TokenCache`); each new token costs the database one registration, a reused one a lookup:

    cache = TokenCache(secret=bytes.fromhex(os.environ["TENANT_KEY"]), key_id="2026-12")
    with conn.transaction():
        conn.execute("SELECT set_tenant_context(%s)", [cache.token(tenant_id)])
        ...

On Citus, register each new token in a statement of its own before its first transaction (a token
registered inside a transaction reaches the workers only once committed: docs/citus.md), and set it
at the transaction's top level, not in a savepoint.

Format: `v1.<tenant uuid>.<expiry, unix seconds>.<key id>.<hex HMAC-SHA256 of the first four parts>`,
what app.verify_tenant_token() checks.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from dataclasses import dataclass, field

KEY_ID_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
MAX_TTL = 86400  # app.mint_tenant_token() refuses longer lifetimes too


def mint(secret: bytes, key_id: str, tenant_id: uuid.UUID | str, ttl: float = 900, now: float | None = None) -> str:
    """A token for `tenant_id`, valid for `ttl` seconds, signed with `secret` (the key `key_id`)."""
    if len(secret) < 32:
        raise ValueError("a tenant key has at least 32 bytes")
    if not KEY_ID_RE.match(key_id):
        raise ValueError(f"key id {key_id!r} must match {KEY_ID_RE.pattern}")
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be between 1 and {MAX_TTL} seconds")
    expiry = int((time.time() if now is None else now) + ttl + 0.999)
    body = f"v1.{uuid.UUID(str(tenant_id))}.{expiry}.{key_id}"
    return f"{body}.{hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()}"


def expiry(token: str) -> int:
    """The unix time a token expires (its third part)."""
    return int(token.split(".")[2])


@dataclass
class TokenCache:
    """One token per tenant, minted again when less than `renew_before` seconds of it remain."""

    secret: bytes
    key_id: str
    ttl: float = 900
    renew_before: float = 60
    _tokens: dict = field(default_factory=dict, repr=False)

    def token(self, tenant_id: uuid.UUID | str) -> str:
        key = str(tenant_id)
        current = self._tokens.get(key)
        if current is None or expiry(current) - time.time() < self.renew_before:
            current = self._tokens[key] = mint(self.secret, self.key_id, tenant_id, self.ttl)
        return current
