-- Deals: deals_per_tenant per tenant, interleaved (deal n belongs to tenant mod(n, tenants)) so a
-- tenant's deals are spread over the table as they would be after years of use. The stage follows
-- a funnel, the probability follows the stage, values are log-normal (median about 8 million),
-- dates are relative to as_of, stage_history lists the stages passed through, owner and team are
-- users of the same tenant (the same expressions give deal_team_members).
INSERT INTO public.deals (id, tenant_id, name, description, deal_type, stage, stage_entered_at, stage_history,
                          value, currency, probability, expected_close_date, actual_close_date, owner_id,
                          team_ids, custom_fields, tags, ai_score, ai_insights, ai_updated_at, created_by,
                          created_at, updated_at, archived_at, version)
SELECT
    pg_temp.sid('deal', g.n),
    pg_temp.sid('tenant', g.t),
    'Project ' || w.codename || ' - ' || w.target,
    initcap(g.deal_type) || ' of ' || w.target || ', a ' || w.sector || ' business based in ' || w.region
    || '. ' || w.rationale,
    g.deal_type,
    st.name[g.s],
    g.entered,
    h.history,
    pg_temp.deal_value(g.n),
    pg_temp.pick(ARRAY['GBP', 'GBP', 'GBP', 'USD', 'EUR'], 'deals.currency', g.n),
    CASE WHEN g.s >= 7 THEN st.probability[g.s]
         ELSE greatest(0, least(100, st.probability[g.s] + floor(pg_temp.u('deals.probability', g.n) * 11)::INTEGER - 5))
    END,
    CASE WHEN g.s >= 7 THEN g.entered::DATE + floor(pg_temp.u('deals.slip', g.n) * 41)::INTEGER - 20
         ELSE pg_temp.as_of()::DATE + floor(pg_temp.u('deals.close', g.n) * 200)::INTEGER - 15
    END,
    CASE WHEN g.s >= 7 THEN g.entered::DATE END,
    pg_temp.sid('user', pg_temp.deal_user(g.n, 0)),
    ARRAY[pg_temp.sid('user', pg_temp.deal_user(g.n, 1)), pg_temp.sid('user', pg_temp.deal_user(g.n, 2))],
    jsonb_build_object('sector', w.sector, 'region', w.region,
                       'source', pg_temp.pick(ARRAY['inbound', 'banker', 'network', 'proprietary'], 'deals.source', g.n)),
    (ARRAY[pg_temp.pick(ARRAY['cross-border', 'strategic', 'pe-backed', 'carve-out', 'distressed', 'founder-led'],
                        'deals.tag1', g.n),
           pg_temp.pick(ARRAY['tech', 'healthcare', 'fintech', 'industrials', 'consumer', 'energy'],
                        'deals.tag2', g.n)])[1:floor(pg_temp.u('deals.tags', g.n) * 3)::INTEGER],
    CASE WHEN g.scored THEN round(pg_temp.u('deals.ai_score', g.n)::NUMERIC, 2) END,
    CASE WHEN g.scored THEN jsonb_build_object(
        'summary', 'Fit with the ' || w.sector || ' thesis; ' || w.rationale,
        'risks', jsonb_build_array(pg_temp.pick(ARRAY['customer concentration', 'key-person dependency',
                                                      'regulatory approval', 'working capital swings',
                                                      'integration complexity'], 'deals.risk', g.n)))
    END,
    CASE WHEN g.scored THEN pg_temp.as_of() - INTERVAL '1 hour' * floor(pg_temp.u('deals.ai_at', g.n) * 720) END,
    pg_temp.sid('user', pg_temp.deal_user(g.n, 0)),
    g.created,
    g.entered,
    CASE WHEN g.s >= 7 AND pg_temp.u('deals.archived', g.n) < 0.2 THEN g.entered + INTERVAL '30 days' END,
    1 + floor(pg_temp.u('deals.version', g.n) * 4)::INTEGER
FROM (
    SELECT
        p.*,
        pg_temp.between_now(p.created, 0.2 + 0.75 * pg_temp.u('deals.entered', p.n)) AS entered,
        CASE WHEN p.s = 8 THEN 2 + floor(pg_temp.u('deals.lost_at', p.n) * 6)::INTEGER ELSE p.s END AS steps
    FROM (
        SELECT
            n,
            mod(n, %(tenants)s::INTEGER) AS t,
            -- funnel (per cent): 25 prospecting, 18 qualification, 14 analysis, 10 negotiation,
            -- 9 due diligence, 6 closing, 10 won, 8 lost
            width_bucket(pg_temp.u('deals.stage', n), ARRAY[0, 0.25, 0.43, 0.57, 0.67, 0.76, 0.82, 0.92]) AS s,
            pg_temp.deal_created(n) AS created,
            pg_temp.u('deals.scored', n) < 0.7 AS scored,
            pg_temp.pick(ARRAY['acquisition', 'acquisition', 'acquisition', 'merger', 'divestiture', 'investment',
                               'joint_venture'], 'deals.type', n) AS deal_type
        FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
    ) AS p
) AS g
CROSS JOIN (
    SELECT
        ARRAY['prospecting', 'qualification', 'analysis', 'negotiation', 'due_diligence', 'closing',
              'closed_won', 'closed_lost'] AS name,
        ARRAY[10, 20, 35, 50, 65, 80, 100, 0] AS probability
) AS st
CROSS JOIN LATERAL (
    SELECT
        pg_temp.pick(ARRAY['Falcon', 'Orion', 'Atlas', 'Kingfisher', 'Mercury', 'Neptune', 'Sapphire', 'Titan',
                           'Aurora', 'Beacon', 'Cobalt', 'Everest', 'Griffin', 'Harbour', 'Lighthouse', 'Meridian',
                           'Nimbus', 'Osprey', 'Pinnacle', 'Quartz', 'Summit', 'Tempest', 'Vanguard', 'Zephyr'],
                     'deals.codename', g.n) AS codename,
        pg_temp.pick(ARRAY['Ashford', 'Brightwater', 'Castlegate', 'Dovecote', 'Eastbrook', 'Foxhill', 'Greenway',
                           'Highbury', 'Kingsley', 'Longford', 'Millbank', 'Norbury', 'Parkside', 'Riverside',
                           'Southwark', 'Westfield'], 'deals.target1', g.n)
        || ' ' || pg_temp.pick(ARRAY['Logistics', 'Analytics', 'Foods', 'Software', 'Engineering', 'Health',
                                     'Payments', 'Energy', 'Robotics', 'Labs', 'Retail', 'Systems'],
                               'deals.target2', g.n) AS target,
        pg_temp.deal_sector(g.n) AS sector,
        pg_temp.pick(ARRAY['London', 'Manchester', 'Edinburgh', 'Dublin', 'Amsterdam', 'Frankfurt', 'Paris',
                           'New York', 'Boston', 'Singapore'], 'deals.region', g.n) AS region,
        pg_temp.pick(ARRAY['Strong recurring revenue and a loyal customer base.',
                           'Founder looking to retire; succession sale.',
                           'Bolt-on to an existing platform with clear cost synergies.',
                           'Carve-out of a non-core division from a listed group.',
                           'Growth capital to fund international expansion.',
                           'Distressed sale after covenant breach; quick timetable.'], 'deals.rationale', g.n)
            AS rationale
) AS w
CROSS JOIN LATERAL (
    -- the stages passed through, with the moment each was entered: 1..s for open and won deals;
    -- for lost deals 1..m (m up to closing), then closed_lost
    SELECT jsonb_agg(jsonb_build_object(
               'stage', st.name[CASE WHEN g.s = 8 AND i = g.steps THEN 8 ELSE i END],
               'entered_at', g.created + (g.entered - g.created) * (i - 1) / greatest(g.steps - 1, 1))
           ORDER BY i) AS history
    FROM generate_series(1, g.steps) AS i
) AS h
