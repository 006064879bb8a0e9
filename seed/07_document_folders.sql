-- Folders: two per deal, the deal's root folder (n even) and one subfolder of it (n odd) whose
-- name gives the topic of the document filed in it (08_documents.sql uses the same pick).
INSERT INTO public.document_folders (id, tenant_id, deal_id, parent_id, name, path, depth, permissions, created_by,
                                     created_at)
SELECT
    pg_temp.sid('folder', g.n),
    pg_temp.sid('tenant', mod(g.d, %(tenants)s::INTEGER)),
    pg_temp.sid('deal', g.d),
    CASE WHEN g.child THEN pg_temp.sid('folder', g.n - 1) END,
    CASE WHEN g.child THEN g.topic ELSE 'Deal documents' END,
    '/' || pg_temp.sid('deal', g.d)::TEXT || CASE WHEN g.child THEN '/' || lower(g.topic) ELSE '' END,
    CASE WHEN g.child THEN 1 ELSE 0 END,
    CASE WHEN g.child AND g.topic IN ('Legal', 'HR') THEN '{"restricted": true}'::JSONB ELSE '{}'::JSONB END,
    pg_temp.sid('user', pg_temp.deal_user(g.d, 0)),
    pg_temp.between_now(pg_temp.deal_created(g.d), 0.05 + 0.1 * mod(g.n, 2))
FROM (
    SELECT
        n,
        n / 2 AS d,
        mod(n, 2) = 1 AS child,
        pg_temp.pick(ARRAY['Financials', 'Legal', 'Commercial', 'Tax', 'HR', 'Technology'], 'folders.topic', n) AS topic
    FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
) AS g
