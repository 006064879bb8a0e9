-- Data rooms: one for every deals_per_data_room-th deal of each tenant (pg_temp.nth_deal), created by
-- the deal's owner.
INSERT INTO public.data_rooms (id, tenant_id, deal_id, name, description, access_code, is_active, expires_at, stats,
                               created_by, created_at, updated_at)
SELECT
    pg_temp.sid('data_room', g.n),
    pg_temp.sid('tenant', mod(g.d, %(tenants)s::INTEGER)),
    pg_temp.sid('deal', g.d),
    pg_temp.pick(ARRAY['Buyer data room', 'Vendor due diligence room', 'Lender data room', 'Clean room'],
                 'rooms.name', g.n),
    'Virtual data room for the ' || pg_temp.deal_sector(g.d) || ' deal; NDA required before access.',
    upper(left(md5(%(seed)s::TEXT || ':access_code:' || g.n::TEXT), 20)),
    pg_temp.u('rooms.active', g.n) < 0.85,
    pg_temp.as_of() + INTERVAL '1 day' * (15 + floor(pg_temp.u('rooms.expires', g.n) * 120)),
    jsonb_build_object('total_views', floor(pg_temp.u('rooms.views', g.n) * 2000)::INTEGER,
                       'unique_visitors', 1 + floor(pg_temp.u('rooms.visitors', g.n) * 40)::INTEGER,
                       'documents_downloaded', floor(pg_temp.u('rooms.downloads', g.n) * 150)::INTEGER,
                       'avg_time_spent', floor(pg_temp.u('rooms.time', g.n) * 900)::INTEGER),
    pg_temp.sid('user', pg_temp.deal_user(g.d, 0)),
    c.created,
    pg_temp.between_now(c.created, pg_temp.u('rooms.updated', g.n))
FROM (
    SELECT
        n,
        pg_temp.nth_deal(n, %(deals_per_data_room)s::INTEGER, 0) AS d
    FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
) AS g
CROSS JOIN LATERAL (SELECT pg_temp.between_now(pg_temp.deal_created(g.d), 0.3) AS created) AS c
