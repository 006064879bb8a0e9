-- Notifications: one per deal, to its owner, about the deal; most already read.
INSERT INTO public.notifications (id, tenant_id, user_id, type, title, message, resource_type, resource_id,
                                  action_url, read, read_at, channels, delivered_at, created_at, expires_at)
SELECT
    pg_temp.sid('notification', g.n),
    pg_temp.sid('tenant', mod(g.n, %(tenants)s::INTEGER)),
    pg_temp.sid('user', pg_temp.deal_user(g.n, 0)),
    g.type,
    CASE g.type WHEN 'mention' THEN 'You were mentioned in a comment'
                WHEN 'task_due' THEN 'A task is due tomorrow'
                WHEN 'document_uploaded' THEN 'New document in the data room'
                ELSE 'Deal moved to a new stage' END,
    'Open the deal to see the details.',
    'deal',
    pg_temp.sid('deal', g.n),
    '/deals/' || pg_temp.sid('deal', g.n)::TEXT,
    g.read,
    CASE WHEN g.read THEN pg_temp.between_now(g.created, 0.5) END,
    ARRAY['in_app', 'email'],
    jsonb_build_object('in_app', g.created, 'email', g.created + INTERVAL '1 minute'),
    g.created,
    g.created + INTERVAL '30 days'
FROM (
    SELECT
        n,
        pg_temp.pick(ARRAY['deal_stage_changed', 'mention', 'task_due', 'document_uploaded'], 'notifications.type', n)
            AS type,
        pg_temp.u('notifications.read', n) < 0.7 AS read,
        pg_temp.as_of() - INTERVAL '1 minute' * floor(pg_temp.u('notifications.created', n) * 43200) AS created
    FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
) AS g
