-- Archived activities: older than a year, as ops.archive_activities() leaves them; one for every
-- deals_per_archived_activity-th deal of each tenant.
INSERT INTO public.activities_archive (id, tenant_id, deal_id, user_id, type, title, description, occurred_at,
                                       duration, metadata, attachments, created_at, created_by, archived_at)
SELECT
    pg_temp.sid('archived_activity', g.n),
    pg_temp.sid('tenant', mod(g.d, %(tenants)s::INTEGER)),
    pg_temp.sid('deal', g.d),
    pg_temp.sid('user', pg_temp.deal_user(g.d, 0)),
    pg_temp.pick(ARRAY['email', 'call', 'meeting', 'note'], 'archive.type', g.n),
    'Early contact',
    'First conversation with the vendor about a possible transaction.',
    g.occurred,
    30,
    '{}'::JSONB,
    '{}'::UUID[],
    g.occurred,
    pg_temp.sid('user', pg_temp.deal_user(g.d, 0)),
    pg_temp.as_of() - INTERVAL '1 day' * floor(pg_temp.u('archive.archived_at', g.n) * 7)
FROM (
    SELECT
        n,
        pg_temp.nth_deal(n, %(deals_per_archived_activity)s::INTEGER, 0) AS d,
        pg_temp.as_of() - INTERVAL '1 day' * (366 + floor(pg_temp.u('archive.occurred', n) * 300)) AS occurred
    FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
) AS g
