-- Data room permissions: the deal's two team members get access to each room (permission n belongs
-- to room n / 2); the first sees every folder of the deal and may download, the second sees the
-- topic subfolder only.
INSERT INTO public.data_room_permissions (id, tenant_id, data_room_id, user_id, can_view, can_download, can_print,
                                          can_annotate, allowed_folders, denied_folders, expires_at,
                                          last_accessed_at, access_count, granted_by, granted_at)
SELECT
    pg_temp.sid('data_room_permission', g.n),
    pg_temp.sid('tenant', mod(g.d, %(tenants)s::INTEGER)),
    pg_temp.sid('data_room', g.n / 2),
    pg_temp.sid('user', pg_temp.deal_user(g.d, 1 + g.j)),
    TRUE,
    g.j = 0,
    g.j = 0,
    pg_temp.u('permissions.annotate', g.n) < 0.5,
    CASE WHEN g.j = 0 THEN ARRAY[pg_temp.sid('folder', 2 * g.d), pg_temp.sid('folder', 2 * g.d + 1)]
         ELSE ARRAY[pg_temp.sid('folder', 2 * g.d + 1)] END,
    CASE WHEN g.j = 0 THEN '{}'::UUID[] ELSE ARRAY[pg_temp.sid('folder', 2 * g.d)] END,
    pg_temp.as_of() + INTERVAL '1 day' * (10 + floor(pg_temp.u('permissions.expires', g.n) * 90)),
    pg_temp.as_of() - INTERVAL '1 hour' * floor(pg_temp.u('permissions.accessed', g.n) * 500),
    floor(pg_temp.u('permissions.access_count', g.n) * 80)::INTEGER,
    pg_temp.sid('user', pg_temp.deal_user(g.d, 0)),
    pg_temp.between_now(pg_temp.deal_created(g.d), 0.35)
FROM (
    SELECT n, pg_temp.nth_deal(n / 2, %(deals_per_data_room)s::INTEGER, 0) AS d, mod(n, 2)::INTEGER AS j
    FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
) AS g
