"""Connections that run the benchmark's queries: as the application (maplatform_app under row-level
security, tenant set), or as the superuser (row-level security bypassed, tenant filter by hand).

The application proves its tenant as a real one does since 0017: its trusted side holds a signing key
(added to the database once, app.add_tenant_key), mints a token per tenant with dbtool.tenant_token
(TokenCache: reused until it nears expiry) and the session sets it with set_tenant_context_for_session;
the first use of a token registers it, every later one is a lookup.

Statements are never prepared (prepare_threshold=None): every execution is parsed and planned, as
for an application without a statement cache, and both sides are treated alike."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import psycopg

from dbtool.tenant_token import TokenCache

from .queries import Query

APP = "maplatform_app"
# How the policies and views find the tenant (sql/policies/): the verified token's tenant, through
# the SECURITY DEFINER lookup no tenant-facing role can bypass.
TOKEN_LOOKUP = "(SELECT app.verified_tenant())"
EXPLAIN_SETTINGS = {"auto_explain.log_min_duration": "0", "auto_explain.log_analyze": "on",
                    "auto_explain.log_buffers": "on", "auto_explain.log_nested_statements": "on",
                    "auto_explain.log_timing": "on", "client_min_messages": "log"}


# The application's signing key, made for this run (a process): its trusted side would read it from
# a secret store. Tokens live 15 minutes, app.mint_tenant_token()'s default; TokenCache mints a new one
# a minute before expiry, and Session.use() sets the new one (a long section holds a tenant longer).
KEY_ID = f"bench-{secrets.token_hex(4)}"
SECRET = secrets.token_bytes(32)
TOKENS = TokenCache(secret=SECRET, key_id=KEY_ID, ttl=900)


def add_key(conn: psycopg.Connection) -> None:
    """The run's signing key in this database, once (as the superuser: the operator's step)."""
    if conn.execute("SELECT 1 FROM app_private.tenant_keys WHERE key_id = %s", [KEY_ID]).fetchone() is None:
        conn.execute("SELECT app.add_tenant_key(%s, %s)", [KEY_ID, SECRET])


@dataclass
class Tenant:
    id: str
    vector: str  # an embedding of one of the tenant's documents: "find documents like this one"

    @property
    def token(self) -> str:
        """The tenant's current token, as the application's trusted side holds it."""
        return TOKENS.token(self.id)


def tenant(conn: psycopg.Connection, tenant_id: str) -> Tenant:
    vector = conn.execute("SELECT embeddings::TEXT FROM public.documents WHERE tenant_id = %s "
                          "AND embeddings IS NOT NULL ORDER BY id LIMIT 1", [tenant_id]).fetchone()
    return Tenant(tenant_id, vector[0] if vector else "")


def sample_tenants(url: str, count: int = 5) -> list[Tenant]:
    """`count` tenants spread over the tenant list, each with a query embedding of its own."""
    with psycopg.connect(url, autocommit=True) as c:
        ids = [r[0] for r in c.execute("SELECT id::TEXT FROM public.tenants ORDER BY id")]
        picked = [ids[i * len(ids) // count] for i in range(count)]
        return [tenant(c, t) for t in picked]


class Session:
    """One connection; as_app: SET ROLE maplatform_app and set the tenant for the session."""

    def __init__(self, url: str, as_app: bool):
        self.as_app = as_app
        self.conn = psycopg.connect(url, autocommit=True, prepare_threshold=None)
        self.conn.execute("LOAD 'auto_explain'")  # as the superuser, before any SET ROLE
        self.conn.execute("SET auto_explain.log_min_duration = -1")
        self.conn.execute("SET hnsw.iterative_scan = relaxed_order")  # match_documents sets it for itself
        self.notices: list[str] = []
        self.conn.add_notice_handler(lambda d: self.notices.append(d.message_primary or ""))
        self.tenant: Tenant | None = None
        self.token: str | None = None
        add_key(self.conn)
        if as_app:
            self.conn.execute(f"SET ROLE {APP}")

    def use(self, tenant: Tenant) -> None:
        """The tenant's token for the session (again only when it changed: another tenant, or renewed).
        The superuser's session holds it too (registered the same way), for run(lookup=True); its
        hand-written queries do not read it."""
        token = tenant.token
        if token != self.token:
            setter = ("SELECT public.set_tenant_context_for_session(%s)" if self.as_app
                      else "SELECT app.use_tenant_token(%s, false)")
            got = self.conn.execute(setter, [token]).fetchone()[0]
            if str(got) != tenant.id:
                raise RuntimeError(f"the token of tenant {tenant.id} gave tenant {got}")
            self.token = token
        self.tenant = tenant

    def text(self, q: Query, variant: int | None = None) -> str:
        if variant is not None:
            return q.variants[variant][1]
        return q.app if self.as_app else q.owner

    def run(self, q: Query, n: int = 1, variant: int | None = None, lookup: bool = False) -> list:
        """lookup (the superuser's hand-written form only): the tenant found as the policies find it, by
        the session's token through app.verified_tenant() (TOKEN_LOOKUP), instead of given as a parameter."""
        params = {"tenant": self.tenant.id, "vector": self.tenant.vector}
        text = self.text(q, variant)
        if lookup:
            text = text.replace("%(tenant)s", TOKEN_LOOKUP)
        cur = self.conn.cursor()
        rows: list = []
        for _ in range(n):
            cur.execute(text, params)
            rows = cur.fetchall()
        return rows

    def explain(self, q: Query, variant: int | None = None) -> list[str]:
        """EXPLAIN (ANALYZE, BUFFERS) of the query and of any statement inside a function it calls
        (auto_explain with nested statements: a function's body is planned on its own)."""
        self.conn.execute("RESET ROLE")
        for k, v in EXPLAIN_SETTINGS.items():
            self.conn.execute(f"SET {k} = '{v}'")
        if self.as_app:
            self.conn.execute(f"SET ROLE {APP}")
        self.notices.clear()
        try:
            self.run(q, variant=variant)
        finally:
            self.conn.execute("RESET ROLE")
            self.conn.execute("SET auto_explain.log_min_duration = -1")
            self.conn.execute("RESET client_min_messages")
            if self.as_app:
                self.conn.execute(f"SET ROLE {APP}")
        plans = [_short(n.split("plan:", 1)[-1].strip("\n")) for n in self.notices if "plan:" in n]
        return list(reversed(plans))  # auto_explain logs inner statements first; the call reads better first

    def close(self) -> None:
        self.conn.close()


def _short(plan: str) -> str:
    """A plan fit to read: a 1,536-number vector literal shows as its first three numbers."""
    return VECTOR_LITERAL.sub(lambda m: "'[" + ",".join(m.group(1).split(",")[:3]) + ",...]'", plan)


VECTOR_LITERAL = re.compile(r"'\[([-0-9.e,]{200,})\]'")


@dataclass
class QuerySide:
    """A timing.Side: one query on one session, the tenant rotating with the repetition."""
    session: Session
    query: Query
    tenants: list[Tenant]
    variant: int | None = None
    lookup: bool = False

    def prepare(self, rep: int) -> None:
        self.session.use(self.tenants[rep % len(self.tenants)])

    def batch(self, n: int) -> None:
        self.session.run(self.query, n, self.variant, self.lookup)
