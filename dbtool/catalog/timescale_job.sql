-- TimescaleDB jobs and policies (retention, compression, continuous-aggregate refresh, add_job):
-- named by procedure (TimescaleDB's own policy procedures without their internal schema) and the
-- hypertable or continuous aggregate they act on, since job ids differ between databases.
-- Schedule, config (compress_after, drop_after, a refresh policy's start_offset and end_offset ...,
-- without the internal hypertable ids), retries, owner (the role the job runs as).
-- TimescaleDB's own jobs (ids below 1000) and run statistics are left out.
SELECT CASE WHEN j.proc_schema ~ '^_timescaledb' THEN '' ELSE j.proc_schema || '.' END || j.proc_name
       || coalesce(' on ' || coalesce(ca.view_schema || '.' || ca.view_name,
                                      j.hypertable_schema || '.' || j.hypertable_name), '')
       || CASE WHEN count(*) OVER w > 1 THEN ' #' || row_number() OVER w ELSE '' END AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'schedule_interval', j.schedule_interval::text,
           'fixed_schedule', j.fixed_schedule,
           'scheduled', j.scheduled,
           'max_runtime', j.max_runtime::text,
           'max_retries', j.max_retries,
           'retry_period', j.retry_period::text,
           'check', j.check_schema || '.' || j.check_name,
           'owner', j.owner::text))
       -- config keeps its nulls (jsonb_strip_nulls would drop them): a refresh policy's
       -- start_offset NULL (from the first bucket) differs from every interval.
       || CASE WHEN j.config IS NOT NULL
               THEN jsonb_build_object('config', j.config - 'hypertable_id' - 'mat_hypertable_id')
               ELSE '{}' END AS attrs
FROM timescaledb_information.jobs AS j
LEFT JOIN timescaledb_information.continuous_aggregates AS ca
       ON ca.materialization_hypertable_schema = j.hypertable_schema
      AND ca.materialization_hypertable_name = j.hypertable_name
WHERE j.job_id >= 1000
WINDOW w AS (PARTITION BY j.proc_schema, j.proc_name, ca.view_schema, ca.view_name, j.hypertable_schema,
                          j.hypertable_name
             ORDER BY j.config::text, j.schedule_interval)
