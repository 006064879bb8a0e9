-- Tenants: advisory firms and corporate development teams, one row per tenant number t.
INSERT INTO public.tenants (id, subdomain, company_name, plan, stripe_customer_id, stripe_subscription_id,
                            trial_ends_at, onboarding_completed, is_active, created_at, updated_at)
SELECT
    pg_temp.sid('tenant', t),
    lower(w.firm) || '-' || lower(w.kind) || '-' || lpad(t::TEXT, 5, '0'),
    w.firm || ' ' || w.kind,
    pg_temp.pick(ARRAY['starter', 'professional', 'professional', 'enterprise'], 'tenants.plan', t),
    'cus_' || left(md5(%(seed)s::TEXT || ':stripe:' || t::TEXT), 14),
    'sub_' || left(md5(%(seed)s::TEXT || ':subscription:' || t::TEXT), 14),
    CASE WHEN pg_temp.u('tenants.trial', t) < 0.1 THEN pg_temp.as_of() + INTERVAL '14 days' END,
    pg_temp.u('tenants.onboarded', t) < 0.9,
    TRUE,
    pg_temp.as_of() - INTERVAL '1 day' * (400 + floor(pg_temp.u('tenants.created', t) * 700)),
    pg_temp.as_of() - INTERVAL '1 day' * floor(pg_temp.u('tenants.updated', t) * 30)
FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS t
CROSS JOIN LATERAL (
    SELECT
        pg_temp.pick(ARRAY['Aldgate', 'Baxter', 'Calder', 'Dunmore', 'Elmstead', 'Fairfax', 'Granger',
                           'Hawthorne', 'Ironbridge', 'Juniper', 'Kestrel', 'Lambeth', 'Marlowe', 'Northgate',
                           'Oakridge', 'Pemberton', 'Queensway', 'Redwood', 'Sterling', 'Thornbury', 'Upton',
                           'Vantage', 'Whitmore', 'Yardley'], 'tenants.firm', t) AS firm,
        pg_temp.pick(ARRAY['Capital', 'Partners', 'Advisors', 'Holdings', 'Ventures', 'Group'],
                     'tenants.kind', t) AS kind
) AS w
