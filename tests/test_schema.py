"""Every object of the architecture document exists and works, with real rows on the real server."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest

from dbtool.commands.migrate import migrate
from dbtool.commands.rollback import rollback
from schema_support import APP, OPS, acting_as, attempt, cloned_db, seed_tenant

DOC_COLUMNS = {
    "tenants": "id subdomain company_name plan stripe_customer_id stripe_subscription_id trial_ends_at settings "
               "onboarding_completed is_active created_at updated_at",
    "users": "id tenant_id clerk_id email first_name last_name avatar_url title phone role permissions preferences "
             "is_active last_login_at created_at updated_at",
    "user_sessions": "id user_id token_hash ip_address user_agent expires_at created_at",
    "deals": "id tenant_id name description deal_type stage stage_entered_at stage_history value currency probability "
             "expected_close_date actual_close_date owner_id team_ids custom_fields tags ai_score ai_insights "
             "ai_updated_at created_by created_at updated_at archived_at version",
    "deal_team_members": "id deal_id user_id role permissions added_by added_at",
    "pipeline_stages": "id tenant_id name display_name order_index probability_default color is_active",
    "activities": "id tenant_id deal_id user_id type title description occurred_at duration metadata attachments "
                  "created_at created_by",
    "tasks": "id tenant_id title description type deal_id assigned_to assigned_by status priority due_date "
             "reminder_date completed_at completed_by depends_on blocks tags created_at updated_at",
    "documents": "id tenant_id deal_id folder_id name display_name mime_type size_bytes storage_key storage_bucket "
                 "cdn_url version parent_version_id is_latest encryption_key checksum virus_scanned virus_scan_result "
                 "ai_processed ai_summary ai_entities ai_risk_flags embeddings tags custom_metadata uploaded_by "
                 "uploaded_at last_accessed_at access_count search_vector locked_by locked_at",
    "document_folders": "id tenant_id deal_id parent_id name path depth permissions created_by created_at",
    "data_rooms": "id tenant_id deal_id name description settings access_code is_active expires_at stats created_by "
                  "created_at updated_at",
    "data_room_permissions": "id data_room_id user_id can_view can_download can_print can_annotate allowed_folders "
                             "denied_folders expires_at last_accessed_at access_count granted_by granted_at",
    "ai_analyses": "id tenant_id deal_id document_id type model model_version input_data results confidence_score "
                   "processing_time_ms tokens_used cost_usd status error_message created_at expires_at",
    "valuations": "id deal_id method base_value low_value high_value currency assumptions calculations "
                  "sensitivity_analysis comparables confidence_score notes created_by created_at approved_by approved_at",
    "activity_timeline": "time tenant_id user_id deal_id event_type event_data value_impacted duration_seconds "
                         "ip_address user_agent session_id",
    "presence": "user_id resource_type resource_id cursor_position selection last_ping",
    "comments": "id tenant_id commentable_type commentable_id user_id parent_id content resolved resolved_by "
                "resolved_at mentions reactions created_at updated_at edited_at",
    "notifications": "id user_id type title message resource_type resource_id action_url read read_at channels "
                     "delivered_at created_at expires_at",
    "activities_archive": "id tenant_id deal_id user_id type title description occurred_at duration metadata "
                          "attachments created_at created_by",
}
DOC_TYPES = {  # the types that are easy to get subtly wrong
    ("deals", "value"): "numeric(15,2)", ("deals", "ai_score"): "numeric(3,2)", ("deals", "team_ids"): "uuid[]",
    ("deals", "currency"): "character varying(3)", ("documents", "embeddings"): "vector(1536)",
    ("documents", "search_vector"): "tsvector", ("ai_analyses", "cost_usd"): "numeric(10,4)",
    ("tenants", "subdomain"): "character varying(63)", ("user_sessions", "ip_address"): "inet",
    ("notifications", "channels"): "text[]", ("activity_timeline", "time"): "timestamp with time zone",
}
DOC_INDEXES = """idx_tenants_subdomain idx_tenants_active idx_users_tenant idx_users_clerk idx_users_email
    idx_sessions_token idx_sessions_expires idx_deals_tenant_stage idx_deals_owner idx_deals_close_date
    idx_deals_value idx_deals_ai_score idx_deals_tags idx_deals_search idx_deal_team_deal idx_deal_team_user
    idx_pipeline_tenant idx_activities_deal idx_activities_user idx_activities_occurred idx_activities_type
    idx_tasks_assigned idx_tasks_deal idx_tasks_due idx_tasks_status idx_documents_deal idx_documents_folder
    idx_documents_latest idx_documents_search idx_documents_embeddings idx_documents_tags idx_folders_deal
    idx_folders_path idx_datarooms_deal idx_datarooms_active idx_datarooms_code idx_dr_permissions_room
    idx_dr_permissions_user idx_ai_analyses_deal idx_ai_analyses_document idx_ai_analyses_type
    idx_ai_analyses_created idx_valuations_deal idx_valuations_created idx_deals_active_high_value
    idx_deals_closing_soon idx_deals_dashboard idx_deals_quarter idx_activities_time_brin idx_presence_resource
    idx_comments_commentable idx_comments_parent idx_comments_user idx_notifications_user_unread
    idx_notifications_created activity_timeline_tenant_id_time_idx activity_timeline_deal_id_time_idx
    activity_timeline_user_id_time_idx pipeline_analytics_tenant_id_stage_key pipeline_analytics_stage_idx
    idx_deals_name_trgm idx_documents_name_trgm""".split()
INDEX_METHODS = {"idx_deals_tags": "gin", "idx_deals_search": "gin", "idx_documents_search": "gin",
                 "idx_documents_tags": "gin", "idx_documents_embeddings": "hnsw", "idx_activities_time_brin": "brin",
                 "idx_deals_name_trgm": "gin", "idx_documents_name_trgm": "gin"}
# The document's unique keys, since 0028, 0030 and 0036 per tenant (docs/deviations.md) but tenants' own.
DOC_UNIQUES = [("tenants", "subdomain"), ("tenants", "stripe_customer_id"), ("users", "tenant_id,clerk_id"),
               ("users", "tenant_id,email"), ("user_sessions", "tenant_id,token_hash"),
               ("deal_team_members", "tenant_id,deal_id,user_id"),
               ("pipeline_stages", "tenant_id,name"), ("pipeline_stages", "tenant_id,order_index"),
               ("documents", "tenant_id,storage_key"), ("document_folders", "tenant_id,parent_id,name"),
               ("data_rooms", "tenant_id,access_code"), ("data_room_permissions", "tenant_id,data_room_id,user_id"),
               ("presence", "tenant_id,user_id,resource_type,resource_id")]


@pytest.fixture(scope="module")
def db(server):
    with cloned_db(server, "schema") as url:
        with psycopg.connect(url, autocommit=True) as c:
            seeded = seed_tenant(c, "schema-a")
        yield url, seeded


@pytest.fixture
def conn(db, conn_to):
    return conn_to(db[0])


def test_every_table_has_every_column_of_the_document_and_a_tenant_id(conn):
    missing = {}
    for table, cols in DOC_COLUMNS.items():
        have = {r[0] for r in conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                                           "AND attnum > 0 AND NOT attisdropped", [f"public.{table}"])}
        lacking = (set(cols.split()) | ({"tenant_id"} if table != "tenants" else set())) - have
        if lacking:
            missing[table] = sorted(lacking)
    assert missing == {}


@pytest.mark.parametrize("table, column", DOC_TYPES)
def test_columns_have_the_documents_types(conn, table, column):
    got = conn.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass "
                       "AND attname = %s", [f"public.{table}", column]).fetchone()[0]
    assert got == DOC_TYPES[(table, column)]


def test_activities_archive_has_the_columns_of_activities_in_the_same_order(conn):
    def cols(t):
        return [r[0] for r in conn.execute("SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute "
                                           "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
                                           "ORDER BY attnum", [t])]
    assert cols("public.activities_archive")[: len(cols("public.activities"))] == cols("public.activities")


def test_every_index_of_the_document_exists_with_its_method(conn):
    have = dict(conn.execute("SELECT c.relname, am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
                             "JOIN pg_namespace n ON n.oid = c.relnamespace "
                             "WHERE c.relkind = 'i' AND n.nspname IN ('public', 'timeline')"))
    assert [i for i in DOC_INDEXES if i not in have] == []
    assert {i: have[i] for i in INDEX_METHODS} == INDEX_METHODS


@pytest.mark.parametrize("table, columns", DOC_UNIQUES)
def test_every_unique_constraint_of_the_document_exists(conn, table, columns):
    found = conn.execute("""SELECT count(*) FROM pg_index i WHERE i.indrelid = %s::regclass AND i.indisunique
                            AND (SELECT string_agg(attname, ',' ORDER BY k.n) FROM unnest(i.indkey) WITH ORDINALITY k (a, n)
                                 JOIN pg_attribute ON attrelid = i.indrelid AND attnum = k.a) = %s""",
                         [f"public.{table}", columns]).fetchone()[0]
    assert found == 1


DEFAULTS = {  # seeded rows give only what they must; the rest is the document's defaults
    ("tenants", "plan"): "starter", ("tenants", "onboarding_completed"): False, ("tenants", "is_active"): True,
    ("users", "role"): "member", ("users", "permissions"): [], ("users", "is_active"): True,
    ("deals", "deal_type"): "acquisition", ("deals", "stage"): "prospecting", ("deals", "stage_history"): [],
    ("deals", "currency"): "GBP", ("deals", "custom_fields"): {}, ("deals", "tags"): [], ("deals", "version"): 1,
    ("deal_team_members", "role"): "member", ("pipeline_stages", "is_active"): True,
    ("tasks", "type"): "general", ("tasks", "priority"): "medium", ("tasks", "blocks"): [],
    ("documents", "version"): 1, ("documents", "is_latest"): True, ("documents", "virus_scanned"): False,
    ("documents", "ai_processed"): False, ("documents", "access_count"): 0, ("documents", "custom_metadata"): {},
    ("document_folders", "depth"): 0, ("document_folders", "permissions"): {},
    ("data_rooms", "is_active"): True, ("data_room_permissions", "can_view"): True,
    ("data_room_permissions", "can_download"): False, ("data_room_permissions", "denied_folders"): [],
    ("activities", "metadata"): {}, ("ai_analyses", "status"): "completed", ("valuations", "currency"): "GBP",
    ("comments", "resolved"): False, ("comments", "reactions"): {}, ("notifications", "read"): False,
    ("notifications", "channels"): ["in_app"], ("notifications", "delivered_at"): {},
}


def test_columns_take_the_documents_defaults(conn):
    wrong = {}
    for (table, column), expected in DEFAULTS.items():
        got = conn.execute(f"SELECT {column} FROM public.{table} LIMIT 1").fetchone()[0]
        if got != expected:
            wrong[(table, column)] = got
    assert wrong == {}
    settings, room, prefs = conn.execute("""SELECT t.settings, r.settings, u.preferences FROM public.tenants t,
                                           public.data_rooms r, public.users u LIMIT 1""").fetchone()
    assert settings == {"features": {"ai_analysis": True, "data_rooms": True, "api_access": False},
                        "limits": {"users": 5, "deals": 100, "storage_gb": 10}, "version": "2.0.0"}
    assert room["nda_required"] is True and room["ip_restrictions"] == [] and room["expiry_date"] is None
    assert prefs == {"notifications": {"email": True, "push": True, "sms": False}, "timezone": "UTC", "locale": "en-US"}


def test_document_search_vector_is_generated_from_names_and_summary(conn, db):
    _, a = db
    conn.execute("UPDATE public.documents SET display_name = 'Share purchase agreement', ai_summary = 'Indemnities' "
                 "WHERE id = %s", [a["doc"]])
    vector = conn.execute("SELECT search_vector::text FROM public.documents WHERE id = %s", [a["doc"]]).fetchone()[0]
    assert "'purchas':2A" in vector and "'indemn':4B" in vector


def test_updated_at_is_maintained_on_update(conn, db):
    _, a = db
    conn.execute("UPDATE public.deals SET updated_at = '2000-01-01' WHERE id = %s", [a["deal"]])
    stamp = conn.execute("SELECT updated_at FROM public.deals WHERE id = %s", [a["deal"]]).fetchone()[0]
    assert stamp.year > 2000  # the trigger overrides even an explicit value: it says when the row changed
    triggers = {r[0] for r in conn.execute("SELECT tgrelid::regclass::text FROM pg_trigger "
                                           "WHERE tgfoid = 'app.touch_updated_at'::regproc")}
    with_column = {r[0] for r in conn.execute("""SELECT attrelid::regclass::text FROM pg_attribute a
                                                 JOIN pg_class c ON c.oid = a.attrelid
                                                 WHERE attname = 'updated_at' AND c.relkind = 'r'
                                                   AND c.relnamespace = 'public'::regnamespace""")}
    assert triggers == with_column


# --- get_deal_pipeline ---------------------------------------------------------------------------

@pytest.fixture
def pipeline_tenant(conn, db):
    """A tenant with known deals: 3 prospecting (10 days in stage), 1 negotiation (2 days), 1 won, 1 lost,
    1 archived prospecting deal that must not count."""
    t = seed_tenant(conn, f"pipe-{id(conn) % 100000}")
    conn.execute("DELETE FROM public.deals WHERE tenant_id = %s", [t["tenant"]])
    conn.execute("""INSERT INTO public.deals (tenant_id, name, stage, value, stage_entered_at, archived_at) VALUES
        (%(t)s, 'p1', 'prospecting', 100, now() - INTERVAL '10 days', NULL),
        (%(t)s, 'p2', 'prospecting', 200, now() - INTERVAL '10 days', NULL),
        (%(t)s, 'p3', 'prospecting', 300, now() - INTERVAL '10 days', NULL),
        (%(t)s, 'n1', 'negotiation', 1000, now() - INTERVAL '2 days', NULL),
        (%(t)s, 'w1', 'closed_won', 500, now(), NULL),
        (%(t)s, 'l1', 'closed_lost', 50, now(), NULL),
        (%(t)s, 'old', 'prospecting', 9999, now() - INTERVAL '99 days', now())""", {"t": t["tenant"]})
    return t["tenant"]


def test_get_deal_pipeline_counts_values_and_orders_stages(conn, pipeline_tenant):
    with acting_as(conn, APP, pipeline_tenant):
        rows = conn.execute("SELECT * FROM public.get_deal_pipeline(%s)", [pipeline_tenant]).fetchall()
    assert rows == [("prospecting", 3, Decimal("600.00"), 10), ("negotiation", 1, Decimal("1000.00"), 2),
                    ("closed_won", 1, Decimal("500.00"), 0), ("closed_lost", 1, Decimal("50.00"), 0)]
    types = conn.execute("SELECT pg_get_function_result('public.get_deal_pipeline(uuid)'::regprocedure)").fetchone()[0]
    assert types == "TABLE(stage character varying, deal_count integer, total_value numeric, avg_days_in_stage integer)"


def test_get_deal_pipeline_of_another_tenant_returns_nothing_to_the_app(conn, pipeline_tenant, db):
    _, a = db
    with acting_as(conn, APP, a["tenant"]):
        assert conn.execute("SELECT * FROM public.get_deal_pipeline(%s)", [pipeline_tenant]).fetchall() == []


# --- pipeline_analytics --------------------------------------------------------------------------

def _analytics(conn, tenant):
    return {r[0]: r[1:] for r in conn.execute(
        "SELECT stage, deal_count, total_value, conversion_rate FROM public.pipeline_analytics WHERE tenant_id = %s",
        [tenant])}


def test_pipeline_analytics_conversion_rates_follow_the_configured_stage_order(conn, pipeline_tenant):
    conn.execute("SELECT ops.refresh_pipeline_analytics()")
    rows = _analytics(conn, pipeline_tenant)
    # configured order: prospecting(3) -> qualification(0) ... negotiation(1) -> due_diligence(0) ...
    # closed_won(1) -> closed_lost(1), which is last
    assert rows == {"prospecting": (3, Decimal("600.00"), Decimal(0)),
                    "negotiation": (1, Decimal("1000.00"), Decimal(0)),
                    "closed_won": (1, Decimal("500.00"), Decimal(1)),
                    "closed_lost": (1, Decimal("50.00"), None)}
    conn.execute("INSERT INTO public.deals (tenant_id, name, stage) VALUES (%s, 'q1', 'qualification'), "
                 "(%s, 'q2', 'qualification')", [pipeline_tenant] * 2)
    conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY public.pipeline_analytics")
    rows = _analytics(conn, pipeline_tenant)
    assert round(rows["prospecting"][2], 6) == Decimal("0.666667")
    assert rows["qualification"] == (2, None, Decimal(0))  # analysis, next, has no deals


def test_pipeline_analytics_refreshes_concurrently_while_it_is_being_read(db, conn, conn_to):
    reader = psycopg.connect(db[0])
    try:
        reader.execute("SELECT count(*) FROM public.pipeline_analytics").fetchone()  # holds its lock, open transaction
        conn.execute("SET lock_timeout = '300ms'")
        conn.execute("SELECT ops.refresh_pipeline_analytics()")  # CONCURRENTLY: does not wait for the reader
        _, err = attempt(conn, "REFRESH MATERIALIZED VIEW public.pipeline_analytics")  # a plain refresh would
        assert err is not None and err.sqlstate == "55P03"
    finally:
        reader.close()
        conn.execute("RESET lock_timeout")


def test_pipeline_analytics_has_the_unique_index_concurrent_refresh_needs(conn):
    assert conn.execute("""SELECT indisunique FROM pg_index
                           WHERE indexrelid = 'public.pipeline_analytics_tenant_id_stage_key'::regclass""").fetchone()[0]


# --- monitoring views ----------------------------------------------------------------------------

@pytest.mark.parametrize("view", ["ops.slow_queries", "ops.table_bloat", "ops.connection_stats",
                                  "ops.timescaledb_capabilities"])
def test_every_monitoring_view_returns_rows_to_ops(conn, view):
    conn.execute("SELECT pg_sleep(0.11) AS monitoring_probe")
    with acting_as(conn, OPS):
        rows = conn.execute(f"SELECT * FROM {view}").fetchall()
    assert rows, view


def test_slow_queries_keeps_the_documents_column_names(conn):
    with acting_as(conn, OPS):
        cols = [d.name for d in conn.execute("SELECT * FROM ops.slow_queries LIMIT 0").description]
    assert cols == ["query", "calls", "total_time", "mean_time", "min_time", "max_time", "stddev_time"]


def test_table_bloat_reports_size_share_and_dead_tuples(conn):
    with acting_as(conn, OPS):
        row = conn.execute("SELECT size, percentage, n_live_tup FROM ops.table_bloat "
                           "WHERE schemaname = 'public' AND tablename = 'deals'").fetchone()
        total = conn.execute("SELECT sum(percentage) FROM ops.table_bloat").fetchone()[0]
    assert row is not None and row[0].endswith(("bytes", "kB", "MB"))
    assert abs(total - 100) < 1


# --- Phase 2 -------------------------------------------------------------------------------------

def test_phase2_sets_every_tenants_settings_version_and_its_rollback_removes_it(db_factory, project):
    """The update must reach every tenant although the migration runs as the owner role, which sees
    no tenant rows under forced RLS (it runs that statement as maplatform_maintenance)."""
    url = db_factory()
    migrate(url, project, to="0012", sync_cron=False)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("INSERT INTO public.tenants (subdomain, company_name) VALUES ('one', 'One'), ('two', 'Two')")
        c.execute("INSERT INTO public.tenants (subdomain, company_name, settings) VALUES ('three', 'Three', NULL)")
    migrate(url, project, sync_cron=False)
    with psycopg.connect(url, autocommit=True) as c:
        versions = dict(c.execute("SELECT subdomain, settings->>'version' FROM public.tenants"))
        c.execute("INSERT INTO public.tenants (subdomain, company_name) VALUES ('four', 'Four')")
        new = c.execute("SELECT settings->>'version' FROM public.tenants WHERE subdomain = 'four'").fetchone()[0]
        locked = c.execute("SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.documents'::regclass "
                           "AND attname IN ('locked_by', 'locked_at')").fetchone()[0]
    assert versions == {"one": "2.0.0", "two": "2.0.0", "three": None} and new == "2.0.0" and locked == 2
    rollback(url, project, to="0012", sync_cron=False)
    with psycopg.connect(url, autocommit=True) as c:
        keys = [r[0] for r in c.execute("SELECT settings ? 'version' FROM public.tenants WHERE settings IS NOT NULL")]
        gone = c.execute("SELECT to_regclass('public.comments'), to_regclass('public.presence'), "
                         "to_regclass('public.notifications')").fetchone()
    assert keys == [False, False, False] and gone == (None, None, None)
