-- Which TimescaleDB edition this server runs and which path the time-series migrations took for
-- compression, retention and daily_activity_summary (docs/timescaledb.md); on a Citus coordinator,
-- where 0038 made the timeline a table partitioned by month (docs/citus.md), that path. Read live
-- from the catalog, so it stays true after someone changes a policy by hand; `dbtool doctor` shows it.
SET LOCAL ROLE maplatform_owner;

DROP VIEW IF EXISTS ops.timescaledb_capabilities;
CREATE VIEW ops.timescaledb_capabilities AS
SELECT
    pg_catalog.current_setting('timescaledb.license', TRUE) AS edition,
    (
        SELECT e.extversion FROM pg_catalog.pg_extension AS e
        WHERE e.extname = 'timescaledb'
    ) AS version,
    pg_catalog.format('%I.%I', h.hypertable_schema, h.hypertable_name) AS hypertable,
    CASE
        WHEN h.compression_enabled AND EXISTS (
            SELECT 1 FROM timescaledb_information.jobs AS j
            WHERE j.proc_name = 'policy_compression' AND j.hypertable_schema = h.hypertable_schema
              AND j.hypertable_name = h.hypertable_name
        ) THEN 'enabled, with a compression policy'
        WHEN h.compression_enabled THEN 'enabled, without a compression policy'
        WHEN pg_catalog.current_setting('timescaledb.license', TRUE) = 'apache'
            THEN 'unavailable: the Apache edition has no compression'
        ELSE 'off'
    END AS compression,
    CASE
        WHEN EXISTS (
            SELECT 1 FROM timescaledb_information.jobs AS j
            WHERE j.proc_name = 'policy_retention' AND j.hypertable_schema = h.hypertable_schema
              AND j.hypertable_name = h.hypertable_name
        ) THEN 'timescaledb retention policy'
        WHEN EXISTS (
            SELECT 1 FROM ops.cron_jobs AS cj
            WHERE cj.jobname = 'activity_timeline_retention'
        )
            THEN 'pg_cron job activity_timeline_retention (drop_chunks)'
        ELSE 'none'
    END AS retention,
    CASE
        WHEN EXISTS (
            SELECT 1 FROM timescaledb_information.continuous_aggregates AS ca
            WHERE ca.view_name = 'daily_activity_summary'
              AND ca.hypertable_schema = h.hypertable_schema AND ca.hypertable_name = h.hypertable_name
        ) THEN 'continuous aggregate'
        WHEN EXISTS (
            SELECT 1 FROM ops.cron_jobs AS cj
            WHERE cj.jobname = 'refresh_daily_activity_summary'
        ) THEN 'materialized view refreshed by pg_cron job refresh_daily_activity_summary'
        ELSE 'none'
    END AS daily_activity_summary
FROM timescaledb_information.hypertables AS h
WHERE h.hypertable_name = 'activity_timeline' AND h.hypertable_schema IN ('timeline', 'public')
UNION ALL
SELECT
    pg_catalog.current_setting('timescaledb.license', TRUE) AS edition,
    (
        SELECT e.extversion FROM pg_catalog.pg_extension AS e
        WHERE e.extname = 'timescaledb'
    ) AS version,
    pg_catalog.format('%I.%I', n.nspname, c.relname) AS hypertable,
    'unavailable: Citus time partitions, not a hypertable' AS compression,
    CASE
        WHEN EXISTS (
            SELECT 1 FROM ops.cron_jobs AS cj
            WHERE cj.jobname = 'activity_timeline_retention'
        ) THEN 'pg_cron job activity_timeline_retention (drop_old_time_partitions)'
        ELSE 'none'
    END AS retention,
    CASE
        WHEN EXISTS (
            SELECT 1 FROM ops.cron_jobs AS cj
            WHERE cj.jobname = 'refresh_daily_activity_summary'
        ) THEN 'materialized view refreshed by pg_cron job refresh_daily_activity_summary'
        ELSE 'none'
    END AS daily_activity_summary
FROM pg_catalog.pg_class AS c
INNER JOIN pg_catalog.pg_namespace AS n ON c.relnamespace = n.oid
WHERE c.relname = 'activity_timeline' AND n.nspname = 'timeline' AND c.relkind = 'p';
REVOKE ALL ON ops.timescaledb_capabilities FROM PUBLIC;
GRANT SELECT ON ops.timescaledb_capabilities TO maplatform_ops;
COMMENT ON VIEW ops.timescaledb_capabilities IS
    'The TimescaleDB edition of this server and the path the migrations took for compression, retention and the '
    'daily summary (on a Citus coordinator, the timeline''s time partitions); dbtool doctor shows it';
