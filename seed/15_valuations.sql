-- Valuations: one for every deals_per_valuation-th deal of each tenant, around the deal's value, comparing it with
-- two other deals of the same tenant (the next two by number, when the tenant has them).
INSERT INTO public.valuations (id, tenant_id, deal_id, method, base_value, low_value, high_value, currency,
                               assumptions, calculations, sensitivity_analysis, comparables, confidence_score,
                               notes, created_by, created_at, approved_by, approved_at)
SELECT
    pg_temp.sid('valuation', g.n),
    pg_temp.sid('tenant', g.t),
    pg_temp.sid('deal', g.d),
    g.method,
    g.base,
    round(g.base * 0.85, -3),
    round(g.base * 1.2, -3),
    'GBP',
    jsonb_build_object('wacc', round((0.07 + pg_temp.u('valuations.wacc', g.n) * 0.05)::NUMERIC, 3),
                       'terminal_growth', round((0.01 + pg_temp.u('valuations.growth', g.n) * 0.02)::NUMERIC, 3),
                       'ebitda_multiple', round((6 + pg_temp.u('valuations.multiple', g.n) * 8)::NUMERIC, 1)),
    jsonb_build_object('enterprise_value', g.base, 'net_debt', round(g.base * 0.2, -3),
                       'equity_value', round(g.base * 0.8, -3)),
    jsonb_build_object('wacc_plus_1pt', round(g.base * 0.9, -3), 'wacc_minus_1pt', round(g.base * 1.12, -3)),
    CASE WHEN %(deals_per_tenant)s::INTEGER >= 3 THEN ARRAY[
        pg_temp.sid('deal', mod(g.k + 1, %(deals_per_tenant)s::INTEGER) * %(tenants)s::INTEGER + g.t),
        pg_temp.sid('deal', mod(g.k + 2, %(deals_per_tenant)s::INTEGER) * %(tenants)s::INTEGER + g.t)]
    ELSE '{}'::UUID[] END,
    round((0.5 + pg_temp.u('valuations.confidence', g.n) * 0.45)::NUMERIC, 2),
    pg_temp.pick(ARRAY['Base case assumes management plan.', 'Discount for customer concentration.',
                       'Synergies excluded.'], 'valuations.notes', g.n),
    pg_temp.sid('user', pg_temp.deal_user(g.d, 0)),
    g.created,
    CASE WHEN g.approved THEN pg_temp.sid('user', g.t) END,
    CASE WHEN g.approved THEN pg_temp.between_now(g.created, 0.5) END
FROM (
    SELECT
        p.*,
        mod(p.d, %(tenants)s::INTEGER) AS t,
        p.d / %(tenants)s::INTEGER AS k,
        round(pg_temp.deal_value(p.d) * (0.85 + 0.3 * pg_temp.u('valuations.base', p.n))::NUMERIC, -3) AS base,
        pg_temp.between_now(pg_temp.deal_created(p.d), 0.2 + 0.6 * pg_temp.u('valuations.created', p.n)) AS created,
        pg_temp.u('valuations.approved', p.n) < 0.6 AS approved
    FROM (
        SELECT
            n,
            pg_temp.nth_deal(n, %(deals_per_valuation)s::INTEGER, 0) AS d,
            pg_temp.pick(ARRAY['dcf', 'comparables', 'precedent_transactions', 'lbo'], 'valuations.method', n) AS method
        FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
    ) AS p
) AS g
