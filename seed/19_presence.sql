-- Presence: every user is looking at one deal of their tenant.
INSERT INTO public.presence (tenant_id, user_id, resource_type, resource_id, cursor_position, selection, last_ping)
SELECT
    pg_temp.sid('tenant', mod(n, %(tenants)s::INTEGER)),
    pg_temp.sid('user', n),
    'deal',
    pg_temp.sid('deal', floor(pg_temp.u('presence.deal', n) * %(deals_per_tenant)s::INTEGER)::BIGINT
                        * %(tenants)s::INTEGER + mod(n, %(tenants)s::INTEGER)),
    jsonb_build_object('x', floor(pg_temp.u('presence.x', n) * 1200)::INTEGER,
                       'y', floor(pg_temp.u('presence.y', n) * 800)::INTEGER),
    NULL::JSONB,
    pg_temp.as_of() - INTERVAL '1 second' * floor(pg_temp.u('presence.ping', n) * 3600)
FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
