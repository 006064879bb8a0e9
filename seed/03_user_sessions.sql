-- Sessions: one per user, most still valid, some expired (for the cleanup_sessions job).
INSERT INTO public.user_sessions (id, tenant_id, user_id, token_hash, ip_address, user_agent, expires_at, created_at)
SELECT
    pg_temp.sid('session', n),
    pg_temp.sid('tenant', mod(n, %(tenants)s::INTEGER)),
    pg_temp.sid('user', n),
    encode(sha256(convert_to(%(seed)s::TEXT || ':token:' || n::TEXT, 'UTF8')), 'hex'),
    ('10.' || mod(n / 65536, 256)::TEXT || '.' || mod(n / 256, 256)::TEXT || '.' || mod(n, 256)::TEXT)::INET,
    pg_temp.pick(ARRAY['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15',
                       'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36',
                       'MAPlatform-iOS/3.2 (iPhone; iOS 17.4)'], 'sessions.agent', n),
    pg_temp.as_of() + INTERVAL '1 hour' * (floor(pg_temp.u('sessions.expires', n) * 240) - 48),
    pg_temp.as_of() - INTERVAL '1 hour' * floor(pg_temp.u('sessions.created', n) * 48)
FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
