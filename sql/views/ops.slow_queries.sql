-- The 50 statements of this database with the highest mean time above 100 ms.
-- pg_stat_statements renamed its columns in PostgreSQL 13 (total_time -> total_exec_time, ...);
-- the view keeps the document's column names. Statement texts of every tenant are visible here,
-- so only maplatform_ops reads it (it is a member of pg_read_all_stats, so it sees every text).
SET LOCAL ROLE maplatform_owner;

DROP VIEW IF EXISTS ops.slow_queries;
CREATE VIEW ops.slow_queries AS
SELECT
    s.query,
    s.calls,
    s.total_exec_time AS total_time,
    s.mean_exec_time AS mean_time,
    s.min_exec_time AS min_time,
    s.max_exec_time AS max_time,
    s.stddev_exec_time AS stddev_time
FROM public.pg_stat_statements AS s
WHERE
    s.mean_exec_time > 100 -- milliseconds
    AND s.dbid = (
        SELECT d.oid FROM pg_catalog.pg_database AS d
        WHERE d.datname = pg_catalog.current_database()
    )
ORDER BY s.mean_exec_time DESC
LIMIT 50;
REVOKE ALL ON ops.slow_queries FROM PUBLIC;
GRANT SELECT ON ops.slow_queries TO maplatform_ops;
COMMENT ON VIEW ops.slow_queries IS
    'The 50 statements with the highest mean time above 100 ms (pg_stat_statements, the document''s column names); '
    'for maplatform_ops only: it shows every tenant''s statement texts';
