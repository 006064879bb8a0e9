-- Create activity_timeline's chunks for the 90 days before as_of (and a day either side) before the
-- events are loaded, with one probe event per day that is deleted again at once. Why: TimescaleDB
-- locks the hypertable (SHARE UPDATE EXCLUSIVE, which conflicts with itself) until the end of the
-- transaction that creates a chunk, so two connections loading events (--jobs 2) would take turns
-- instead of running side by side. Committed chunks are shared without waiting.
INSERT INTO public.activity_timeline (time, tenant_id, user_id, deal_id, event_type)
SELECT
    pg_temp.as_of() + INTERVAL '1 day' * d,
    pg_temp.sid('tenant', 0),
    pg_temp.sid('user', pg_temp.deal_user(0, 0)),
    pg_temp.sid('deal', 0),
    'seed_chunk_probe'
FROM generate_series(-92, 1) AS d;

DELETE FROM public.activity_timeline WHERE event_type = 'seed_chunk_probe';
