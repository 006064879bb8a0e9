-- Users: users_per_tenant per tenant; user n belongs to tenant mod(n, tenants) and is that tenant's
-- user number n / tenants (number 0 is the tenant's admin).
INSERT INTO public.users (id, tenant_id, clerk_id, email, first_name, last_name, avatar_url, title, phone, role,
                          permissions, is_active, last_login_at, created_at, updated_at)
SELECT
    pg_temp.sid('user', g.n),
    pg_temp.sid('tenant', g.t),
    'user_' || left(md5(%(seed)s::TEXT || ':clerk:' || g.n::TEXT), 24),
    lower(w.first) || '.' || lower(w.last) || '.' || g.k::TEXT || '@tenant' || g.t::TEXT || '.example.com',
    w.first,
    w.last,
    'https://avatars.example.com/' || left(md5(%(seed)s::TEXT || ':avatar:' || g.n::TEXT), 16) || '.png',
    pg_temp.pick(ARRAY['Partner', 'Director', 'Vice President', 'Associate', 'Analyst', 'Corporate Development Lead'],
                 'users.title', g.n),
    '+44 20 7' || lpad(floor(pg_temp.u('users.phone', g.n) * 1000000)::TEXT, 6, '0'),
    CASE WHEN g.k = 0 THEN 'admin'
         ELSE pg_temp.pick(ARRAY['member', 'member', 'member', 'manager', 'viewer'], 'users.role', g.n) END,
    CASE WHEN g.k = 0 THEN ARRAY['deals:write', 'documents:write', 'users:admin', 'billing:admin']
         ELSE ARRAY['deals:write', 'documents:write'] END,
    pg_temp.u('users.active', g.n) < 0.95,
    pg_temp.as_of() - INTERVAL '1 minute' * floor(pg_temp.u('users.login', g.n) * 20160),
    pg_temp.as_of() - INTERVAL '1 day' * (30 + floor(pg_temp.u('users.created', g.n) * 360)),
    pg_temp.as_of() - INTERVAL '1 day' * floor(pg_temp.u('users.updated', g.n) * 30)
FROM (
    SELECT n, mod(n, %(tenants)s::INTEGER) AS t, n / %(tenants)s::INTEGER AS k
    FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
) AS g
CROSS JOIN LATERAL (
    SELECT
        pg_temp.pick(ARRAY['Olivia', 'James', 'Amelia', 'Oliver', 'Isla', 'George', 'Ava', 'Noah', 'Mia', 'Arthur',
                           'Priya', 'Mohammed', 'Sofia', 'Chen', 'Hannah', 'Daniel', 'Grace', 'Lucas', 'Zara',
                           'Ethan'], 'users.first', g.n) AS first,
        pg_temp.pick(ARRAY['Smith', 'Jones', 'Taylor', 'Brown', 'Williams', 'Wilson', 'Davies', 'Evans', 'Patel',
                           'Khan', 'Wright', 'Walker', 'Hughes', 'Green', 'Hall', 'Clarke', 'Lewis', 'Wood',
                           'Harris', 'Martin'], 'users.last', g.n) AS last
) AS w
