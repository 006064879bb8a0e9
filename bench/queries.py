"""The tenant queries the benchmark measures, each in two forms: as the application runs it (role
maplatform_app, row-level security, tenant set with a verified token, set_tenant_context_for_session)
and as the owner would write it by hand (a superuser, who bypasses row-level security, with the tenant
filter in the WHERE clause). Both forms return the same rows. Where the schema gives the application
a function or view for a query (get_deal_pipeline, search_documents, match_documents, latest_activity,
tenant_pipeline_analytics), the application form uses it, and the hand-written form is its body with
the tenant as a parameter (for the timeline, on the private hypertable timeline.activity_timeline)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    key: str
    title: str
    app: str  # run as maplatform_app with the tenant set; parameters: tenant, vector
    owner: str  # run as the superuser; the tenant is a parameter
    # Informational variants measured against the same hand-written form, without a goal: the
    # function's query run directly by the application under RLS, or another way to write the query.
    variants: tuple[tuple[str, str], ...] = ()


# The application's "latest events" (0018): public.latest_activity(), a PL/pgSQL SECURITY DEFINER function
# over the private hypertable; the hand-written form reads the hypertable itself; the ↳ form is the same
# through public.activity_timeline, the security_barrier view (also used by bench/timeline.py).
TIMELINE_LATEST_BY_HAND = """SELECT time, event_type, deal_id, user_id FROM timeline.activity_timeline
             WHERE tenant_id = %(tenant)s AND time > now() - INTERVAL '7 days' ORDER BY time DESC LIMIT 50"""
TIMELINE_LATEST_VIEW = """SELECT time, event_type, deal_id, user_id FROM public.activity_timeline
                        WHERE time > now() - INTERVAL '7 days' ORDER BY time DESC LIMIT 50"""

QUERIES = [
    Query("pipeline", "pipeline by stage: get_deal_pipeline(tenant)",
          "SELECT * FROM public.get_deal_pipeline(%(tenant)s)",
          "SELECT * FROM public.get_deal_pipeline(%(tenant)s)"),
    Query("dashboard", "dashboard: open deals per stage (idx_deals_dashboard, index-only)",
          """SELECT stage, count(*) AS deals, sum(value) AS total_value,
                    sum(value * probability / 100.0) AS weighted_value, min(expected_close_date) AS next_close
             FROM public.deals WHERE archived_at IS NULL GROUP BY stage ORDER BY stage""",
          """SELECT stage, count(*) AS deals, sum(value) AS total_value,
                    sum(value * probability / 100.0) AS weighted_value, min(expected_close_date) AS next_close
             FROM public.deals WHERE tenant_id = %(tenant)s AND archived_at IS NULL GROUP BY stage ORDER BY stage"""),
    Query("closing", "deals closing in the next 30 days (idx_deals_closing_soon)",
          """SELECT id, name, stage, value, probability, expected_close_date FROM public.deals
             WHERE archived_at IS NULL AND stage IN ('negotiation', 'due_diligence')
               AND expected_close_date BETWEEN current_date AND current_date + 30
             ORDER BY expected_close_date, id""",
          """SELECT id, name, stage, value, probability, expected_close_date FROM public.deals
             WHERE tenant_id = %(tenant)s AND archived_at IS NULL AND stage IN ('negotiation', 'due_diligence')
               AND expected_close_date BETWEEN current_date AND current_date + 30
             ORDER BY expected_close_date, id"""),
    Query("search", "document full-text search, top 20: search_documents('revenue growth', 20)",
          "SELECT * FROM public.search_documents('revenue growth', 20)",
          """SELECT d.id, d.name, d.display_name, d.deal_id,
                    ts_rank(d.search_vector, websearch_to_tsquery('english', 'revenue growth')) AS rank
             FROM public.documents AS d
             WHERE d.tenant_id = %(tenant)s AND d.search_vector @@ websearch_to_tsquery('english', 'revenue growth')
             ORDER BY rank DESC, d.id LIMIT 20""",
          variants=(("the same query without the function, under RLS",
                     """SELECT d.id, d.name, d.display_name, d.deal_id,
                               ts_rank(d.search_vector, websearch_to_tsquery('english', 'revenue growth')) AS rank
                        FROM public.documents AS d
                        WHERE d.search_vector @@ websearch_to_tsquery('english', 'revenue growth')
                        ORDER BY rank DESC, d.id LIMIT 20"""),)),
    Query("vector", "vector similarity, top 10: match_documents(embedding, 10)",
          "SELECT * FROM public.match_documents(%(vector)s::public.vector, 10)",
          """WITH nearest AS MATERIALIZED (
                 SELECT d.id, d.name, d.embeddings OPERATOR(public.<=>) %(vector)s::public.vector AS distance
                 FROM public.documents AS d
                 WHERE d.tenant_id = %(tenant)s AND d.embeddings IS NOT NULL
                 ORDER BY d.embeddings OPERATOR(public.<=>) %(vector)s::public.vector LIMIT 10)
             SELECT n.id, n.name, n.distance FROM nearest AS n ORDER BY n.distance""",
          variants=(("the same query without the function, under RLS",
                     """WITH nearest AS MATERIALIZED (
                            SELECT d.id, d.name, d.embeddings OPERATOR(public.<=>) %(vector)s::public.vector AS distance
                            FROM public.documents AS d WHERE d.embeddings IS NOT NULL
                            ORDER BY d.embeddings OPERATOR(public.<=>) %(vector)s::public.vector LIMIT 10)
                        SELECT n.id, n.name, n.distance FROM nearest AS n ORDER BY n.distance"""),)),
    Query("timeline", "activity_timeline: the latest 50 events of the last 7 days: latest_activity(now() - 7 days, 50)",
          """SELECT time, event_type, deal_id, user_id FROM public.latest_activity(now() - INTERVAL '7 days', 50)""",
          TIMELINE_LATEST_BY_HAND,
          variants=(("the same through the view public.activity_timeline (ORDER BY time DESC LIMIT 50)",
                     TIMELINE_LATEST_VIEW),)),
    Query("analytics", "pipeline_analytics of the tenant (tenant_pipeline_analytics view)",
          "SELECT * FROM public.tenant_pipeline_analytics ORDER BY stage",
          "SELECT * FROM public.pipeline_analytics WHERE tenant_id = %(tenant)s ORDER BY stage"),
]
