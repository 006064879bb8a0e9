-- Comments: a thread on every deals_per_comment_thread-th deal of each tenant (comment n belongs to
-- thread n / 2): a comment on the deal mentioning a team member, and that member's reply to it.
INSERT INTO public.comments (id, tenant_id, commentable_type, commentable_id, user_id, parent_id, content, resolved,
                             resolved_by, resolved_at, mentions, reactions, created_at, updated_at, edited_at)
SELECT
    pg_temp.sid('comment', g.n),
    pg_temp.sid('tenant', mod(g.d, %(tenants)s::INTEGER)),
    'deal',
    pg_temp.sid('deal', g.d),
    pg_temp.sid('user', pg_temp.deal_user(g.d, g.j)),
    CASE WHEN g.j = 1 THEN pg_temp.sid('comment', g.n - 1) END,
    CASE WHEN g.j = 0 THEN pg_temp.pick(ARRAY['Can you check the working capital adjustment?',
                                              'Please review the latest SPA mark-up before Thursday.',
                                              'Vendor has come back on price, thoughts?',
                                              'We need the QoE report before IC.'], 'comments.ask', g.n)
         ELSE pg_temp.pick(ARRAY['On it.', 'Done, see the updated model.', 'Agree, let us discuss tomorrow.',
                                 'Chasing the accountants now.'], 'comments.reply', g.n) END,
    g.resolved,
    CASE WHEN g.resolved THEN pg_temp.sid('user', pg_temp.deal_user(g.d, 0)) END,
    CASE WHEN g.resolved THEN pg_temp.between_now(c.created, 0.5) END,
    CASE WHEN g.j = 0 THEN ARRAY[pg_temp.sid('user', pg_temp.deal_user(g.d, 1))] ELSE '{}'::UUID[] END,
    CASE WHEN pg_temp.u('comments.reacted', g.n) < 0.3 THEN '{"thumbs_up": 1}'::JSONB ELSE '{}'::JSONB END,
    c.created,
    c.created,
    NULL::TIMESTAMPTZ
FROM (
    SELECT
        n,
        pg_temp.nth_deal(n / 2, %(deals_per_comment_thread)s::INTEGER, 0) AS d,
        mod(n, 2)::INTEGER AS j,
        pg_temp.u('comments.resolved', n / 2) < 0.4 AS resolved
    FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
) AS g
CROSS JOIN LATERAL (SELECT pg_temp.between_now(pg_temp.deal_created(g.d), 0.5 + 0.1 * g.j) AS created) AS c
