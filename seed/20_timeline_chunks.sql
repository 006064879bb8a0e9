-- Create activity_timeline's chunks for the 90 days before as_of before the events are loaded, with
-- probe events that are deleted again at once: one at each midnight of the 90 days and one an hour
-- before the first (the events' jitter reaches back that far), none at or after as_of, so exactly
-- the chunks the events fill are created. Why: TimescaleDB locks the hypertable (SHARE UPDATE
-- EXCLUSIVE, which conflicts with itself) until the end of the transaction that creates a chunk, so
-- two connections loading events (--jobs 2) would take turns instead of running side by side.
-- Committed chunks are shared without waiting.
INSERT INTO timeline.activity_timeline (time, tenant_id, user_id, deal_id, event_type)
SELECT
    p.at,
    pg_temp.sid('tenant', 0),
    pg_temp.sid('user', pg_temp.deal_user(0, 0)),
    pg_temp.sid('deal', 0),
    'seed_chunk_probe'
FROM (
    SELECT pg_temp.as_of() - INTERVAL '1 day' * d AS at FROM generate_series(1, 90) AS d
    UNION ALL
    SELECT pg_temp.as_of() - INTERVAL '90 days 1 hour'
) AS p;

DELETE FROM timeline.activity_timeline WHERE event_type = 'seed_chunk_probe';
