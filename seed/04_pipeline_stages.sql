-- The eight deal stages of every tenant, in pipeline order, with their default probability: stage
-- row n is stage mod(n, 8) + 1 of tenant n / 8.
INSERT INTO public.pipeline_stages (id, tenant_id, name, display_name, order_index, probability_default, color,
                                    is_active)
SELECT
    pg_temp.sid('stage', g.n),
    pg_temp.sid('tenant', g.n / 8),
    (ARRAY['prospecting', 'qualification', 'analysis', 'negotiation', 'due_diligence', 'closing', 'closed_won',
           'closed_lost'])[g.o],
    (ARRAY['Prospecting', 'Qualification', 'Analysis', 'Negotiation', 'Due diligence', 'Closing', 'Closed won',
           'Closed lost'])[g.o],
    g.o,
    (ARRAY[10, 20, 35, 50, 65, 80, 100, 0])[g.o],
    (ARRAY['#94a3b8', '#60a5fa', '#818cf8', '#c084fc', '#f472b6', '#fb923c', '#22c55e', '#ef4444'])[g.o],
    TRUE
FROM (
    SELECT n, mod(n, 8)::INTEGER + 1 AS o
    FROM generate_series(%(first)s::INTEGER, %(last)s::INTEGER) AS n
) AS g
