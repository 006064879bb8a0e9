-- Activities: activities_per_deal per deal (activity n belongs to deal n / activities_per_deal),
-- logged by a user of the deal's tenant between the deal's creation and as_of; a `document`
-- activity attaches the deal's document.
INSERT INTO public.activities (id, tenant_id, deal_id, user_id, type, title, description, occurred_at, duration,
                               metadata, attachments, created_at, created_by)
SELECT
    pg_temp.sid('activity', g.n),
    pg_temp.sid('tenant', mod(g.d, %(tenants)s::INTEGER)),
    pg_temp.sid('deal', g.d),
    pg_temp.sid('user', g.usr),
    g.type,
    CASE g.type
        WHEN 'email' THEN 'Email: ' || pg_temp.pick(ARRAY['follow-up on LOI', 'data request', 'draft SPA comments',
                                                          'timetable update'], 'activities.subject', g.n)
        WHEN 'call' THEN 'Call with ' || pg_temp.pick(ARRAY['management', 'the vendor', 'the bank', 'counsel'],
                                                       'activities.who', g.n)
        WHEN 'meeting' THEN pg_temp.pick(ARRAY['Management presentation', 'Site visit', 'IC meeting',
                                               'Negotiation session'], 'activities.meeting', g.n)
        WHEN 'note' THEN 'Note'
        WHEN 'task' THEN 'Task updated'
        WHEN 'document' THEN 'Document shared'
        WHEN 'stage_change' THEN 'Stage changed'
        ELSE 'System event'
    END,
    pg_temp.pick(ARRAY['Discussed valuation range and next steps.', 'Vendor expects a response by Friday.',
                       'Financing terms look acceptable.', 'Open points on warranties remain.',
                       'Management keen to proceed.'], 'activities.description', g.n),
    g.occurred,
    CASE WHEN g.type IN ('call', 'meeting') THEN 15 + floor(pg_temp.u('activities.duration', g.n) * 105)::INTEGER END,
    jsonb_build_object('channel', pg_temp.pick(ARRAY['outlook', 'zoom', 'teams', 'phone', 'app'], 'activities.channel', g.n)),
    CASE WHEN g.type = 'document' THEN ARRAY[pg_temp.sid('document', g.d)] ELSE '{}'::UUID[] END,
    g.occurred,
    pg_temp.sid('user', g.usr)
FROM (
    SELECT
        n,
        n / %(activities_per_deal)s::INTEGER AS d,
        pg_temp.tenant_user(mod(n / %(activities_per_deal)s::INTEGER, %(tenants)s::INTEGER),
                            pg_temp.u('activities.user', n)) AS usr,
        pg_temp.pick(ARRAY['email', 'email', 'call', 'meeting', 'note', 'task', 'document', 'stage_change', 'system'],
                     'activities.type', n) AS type,
        pg_temp.between_now(pg_temp.deal_created(n / %(activities_per_deal)s::INTEGER), pg_temp.u('activities.at', n))
            AS occurred
    FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
) AS g
