-- AI analyses: one for every deals_per_ai_analysis-th deal of each tenant (from its deal 1, so they do not all
-- fall on the deals that have valuations); a document analysis reads the deal's document.
INSERT INTO public.ai_analyses (id, tenant_id, deal_id, document_id, type, model, model_version, input_data, results,
                                confidence_score, processing_time_ms, tokens_used, cost_usd, status, created_at,
                                expires_at)
SELECT
    pg_temp.sid('ai_analysis', g.n),
    pg_temp.sid('tenant', mod(g.d, %(tenants)s::INTEGER)),
    pg_temp.sid('deal', g.d),
    CASE WHEN g.type = 'document_analysis' THEN pg_temp.sid('document', g.d) END,
    g.type,
    pg_temp.pick(ARRAY['gpt-4o', 'claude-3-5-sonnet', 'mistral-large'], 'ai.model', g.n),
    '2024-' || lpad((1 + floor(pg_temp.u('ai.version', g.n) * 12))::TEXT, 2, '0'),
    jsonb_build_object('sector', pg_temp.deal_sector(g.d), 'documents', 1 + floor(pg_temp.u('ai.docs', g.n) * 8)::INTEGER),
    jsonb_build_object('score', round(pg_temp.u('ai.score', g.n)::NUMERIC, 2),
                       'summary', pg_temp.pick(ARRAY['Attractive recurring revenue; moderate integration risk.',
                                                     'Valuation above sector median; diligence gaps in tax.',
                                                     'Strong management; customer concentration is the main risk.'],
                                               'ai.summary', g.n)),
    round((0.55 + pg_temp.u('ai.confidence', g.n) * 0.44)::NUMERIC, 2),
    500 + floor(pg_temp.u('ai.time', g.n) * 20000)::INTEGER,
    g.tokens,
    round((g.tokens * 0.00001)::NUMERIC, 4),
    'completed',
    c.created,
    c.created + INTERVAL '90 days'
FROM (
    SELECT
        n,
        pg_temp.nth_deal(n, %(deals_per_ai_analysis)s::INTEGER, 1) AS d,
        pg_temp.pick(ARRAY['valuation', 'risk_assessment', 'document_analysis', 'document_analysis', 'deal_scoring',
                           'market_analysis', 'comparable_analysis'], 'ai.type', n) AS type,
        1000 + floor(pg_temp.u('ai.tokens', n) * 30000)::INTEGER AS tokens,
        pg_temp.u('ai.created', n) AS at
    FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
) AS g
CROSS JOIN LATERAL (SELECT pg_temp.between_now(pg_temp.deal_created(g.d), g.at) AS created) AS c
