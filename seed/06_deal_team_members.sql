-- Team members: the two users in each deal's team_ids (pg_temp.deal_user(d, 1) and (d, 2)), added by
-- the deal's owner.
INSERT INTO public.deal_team_members (id, tenant_id, deal_id, user_id, role, permissions, added_by, added_at)
SELECT
    pg_temp.sid('deal_team_member', n),
    pg_temp.sid('tenant', mod(n / 2, %(tenants)s::INTEGER)),
    pg_temp.sid('deal', n / 2),
    pg_temp.sid('user', pg_temp.deal_user(n / 2, 1 + mod(n, 2)::INTEGER)),
    CASE WHEN mod(n, 2) = 0 THEN 'lead' ELSE pg_temp.pick(ARRAY['member', 'member', 'advisor', 'observer'],
                                                            'team.role', n) END,
    CASE WHEN mod(n, 2) = 0 THEN ARRAY['deal:edit', 'documents:upload', 'data_room:manage']
         ELSE ARRAY['deal:view', 'documents:upload'] END,
    pg_temp.sid('user', pg_temp.deal_user(n / 2, 0)),
    pg_temp.between_now(pg_temp.deal_created(n / 2), 0.1 * pg_temp.u('team.added', n))
FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
