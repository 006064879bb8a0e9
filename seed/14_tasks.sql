-- Tasks: two per deal (task n belongs to deal n / 2); the second depends on the first, which blocks
-- it (both arrays name tasks of the same tenant, as the schema's triggers require).
INSERT INTO public.tasks (id, tenant_id, title, description, type, deal_id, assigned_to, assigned_by, status,
                          priority, due_date, reminder_date, completed_at, completed_by, depends_on, blocks, tags,
                          created_at, updated_at)
SELECT
    pg_temp.sid('task', g.n),
    pg_temp.sid('tenant', mod(g.d, %(tenants)s::INTEGER)),
    CASE WHEN g.j = 0 THEN pg_temp.pick(ARRAY['Request management accounts', 'Send NDA', 'Book site visit',
                                              'Collect customer contracts'], 'tasks.first', g.n)
         ELSE pg_temp.pick(ARRAY['Review management accounts', 'Prepare IC paper', 'Mark up SPA',
                                 'Update valuation model'], 'tasks.second', g.n) END,
    'Owner to confirm once done.',
    pg_temp.pick(ARRAY['general', 'diligence', 'legal', 'financial'], 'tasks.type', g.n),
    pg_temp.sid('deal', g.d),
    pg_temp.sid('user', pg_temp.deal_user(g.d, 1 + g.j)),
    pg_temp.sid('user', pg_temp.deal_user(g.d, 0)),
    g.status,
    pg_temp.pick(ARRAY['low', 'medium', 'medium', 'high', 'critical'], 'tasks.priority', g.n),
    g.due,
    g.due - INTERVAL '1 day',
    CASE WHEN g.status = 'completed' THEN least(g.due, pg_temp.as_of()) - INTERVAL '2 hours' END,
    CASE WHEN g.status = 'completed' THEN pg_temp.sid('user', pg_temp.deal_user(g.d, 1 + g.j)) END,
    CASE WHEN g.j = 1 THEN ARRAY[pg_temp.sid('task', g.n - 1)] ELSE '{}'::UUID[] END,
    CASE WHEN g.j = 0 THEN ARRAY[pg_temp.sid('task', g.n + 1)] ELSE '{}'::UUID[] END,
    ARRAY[pg_temp.pick(ARRAY['diligence', 'legal', 'finance', 'admin'], 'tasks.tag', g.n)],
    g.created,
    pg_temp.between_now(g.created, pg_temp.u('tasks.updated', g.n))
FROM (
    SELECT
        p.*,
        p.created + INTERVAL '1 day' * (3 + floor(pg_temp.u('tasks.due', p.n) * 60)) AS due
    FROM (
        SELECT
            n,
            n / 2 AS d,
            mod(n, 2)::INTEGER AS j,
            pg_temp.pick(ARRAY['pending', 'in_progress', 'completed', 'completed', 'cancelled', 'blocked'],
                         'tasks.status', n) AS status,
            pg_temp.between_now(pg_temp.deal_created(n / 2), 0.1 + 0.8 * pg_temp.u('tasks.created', n)) AS created
        FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
    ) AS p
) AS g
