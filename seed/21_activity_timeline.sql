-- activity_timeline: events_per_deal events per deal over the 90 days before as_of, in time order
-- (event n happens at fraction n / rows of the window, plus up to an hour of jitter), as an event
-- stream arrives; each event names a random deal, and a random user of that deal's tenant.
INSERT INTO timeline.activity_timeline (time, tenant_id, user_id, deal_id, event_type, event_data, value_impacted,
                                      duration_seconds, ip_address, user_agent, session_id)
SELECT
    g.at,
    pg_temp.sid('tenant', g.t),
    pg_temp.sid('user', g.usr),
    pg_temp.sid('deal', g.deal),
    g.event_type,
    jsonb_build_object('source', pg_temp.pick(ARRAY['web', 'web', 'web', 'mobile', 'api'], 'timeline.source', g.n)),
    CASE WHEN g.event_type IN ('stage_changed', 'valuation_updated')
         THEN round(exp(ln(8000000) + 1.3 * pg_temp.z('timeline.value', g.n))::NUMERIC, -3) END,
    CASE WHEN g.event_type IN ('deal_viewed', 'document_viewed', 'meeting_logged')
         THEN 5 + floor(pg_temp.u('timeline.duration', g.n) * 1800)::INTEGER END,
    ('10.' || mod(g.usr / 65536, 256)::TEXT || '.' || mod(g.usr / 256, 256)::TEXT || '.' || mod(g.usr, 256)::TEXT)::INET,
    pg_temp.pick(ARRAY['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15',
                       'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36',
                       'MAPlatform-iOS/3.2 (iPhone; iOS 17.4)'], 'timeline.agent', g.usr),
    pg_temp.sid('session', g.usr)
FROM (
    SELECT
        p.*,
        mod(p.deal, %(tenants)s::INTEGER) AS t,
        pg_temp.tenant_user(mod(p.deal, %(tenants)s::INTEGER), pg_temp.u('timeline.user', p.n)) AS usr
    FROM (
        SELECT
            n,
            pg_temp.as_of() - INTERVAL '90 days' * (1 - n::DOUBLE PRECISION / %(rows)s::INTEGER)
                - INTERVAL '1 second' * floor(pg_temp.u('timeline.jitter', n) * 3600) AS at,
            floor(pg_temp.u('timeline.deal', n) * %(deals)s::INTEGER)::INTEGER AS deal,
            pg_temp.pick(ARRAY['deal_viewed', 'deal_viewed', 'deal_viewed', 'document_viewed', 'document_viewed',
                               'document_uploaded', 'stage_changed', 'comment_added', 'task_completed',
                               'meeting_logged', 'valuation_updated'], 'timeline.type', n) AS event_type
        FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
    ) AS p
) AS g
