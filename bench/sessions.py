"""Connections that run the benchmark's queries: as the application (maplatform_app under row-level
security, tenant set), or as the superuser (row-level security bypassed, tenant filter by hand).

Statements are never prepared (prepare_threshold=None): every execution is parsed and planned, as
for an application without a statement cache, and both sides are treated alike."""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from .queries import Query

APP = "maplatform_app"
EXPLAIN_SETTINGS = {"auto_explain.log_min_duration": "0", "auto_explain.log_analyze": "on",
                    "auto_explain.log_buffers": "on", "auto_explain.log_nested_statements": "on",
                    "auto_explain.log_timing": "on", "client_min_messages": "log"}


@dataclass
class Tenant:
    id: str
    vector: str  # an embedding of one of the tenant's documents: "find documents like this one"


def sample_tenants(url: str, count: int = 5) -> list[Tenant]:
    """`count` tenants spread over the tenant list, each with a query embedding of its own."""
    with psycopg.connect(url, autocommit=True) as c:
        ids = [r[0] for r in c.execute("SELECT id::TEXT FROM public.tenants ORDER BY id")]
        picked = [ids[i * len(ids) // count] for i in range(count)]
        return [Tenant(t, c.execute("SELECT embeddings::TEXT FROM public.documents WHERE tenant_id = %s "
                                    "AND embeddings IS NOT NULL ORDER BY id LIMIT 1", [t]).fetchone()[0])
                for t in picked]


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
        if as_app:
            self.conn.execute(f"SET ROLE {APP}")

    def use(self, tenant: Tenant) -> None:
        if self.as_app and tenant is not self.tenant:
            self.conn.execute("SELECT public.set_tenant_context_for_session(%s)", [tenant.id])
        self.tenant = tenant

    def text(self, q: Query, variant: int | None = None) -> str:
        if variant is not None:
            return q.variants[variant][1]
        return q.app if self.as_app else q.owner

    def run(self, q: Query, n: int = 1, variant: int | None = None) -> list:
        params = {"tenant": self.tenant.id, "vector": self.tenant.vector}
        text = self.text(q, variant)
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

    def prepare(self, rep: int) -> None:
        self.session.use(self.tenants[rep % len(self.tenants)])

    def batch(self, n: int) -> None:
        self.session.run(self.query, n, self.variant)
