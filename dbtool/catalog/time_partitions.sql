-- Not a kind: on a Citus database, the time partitions Citus' create_time_partitions made (named as
-- pg_partman names them, which Citus reuses: <table>_p<yyyy>..., the table's name cut short when
-- long), as range partitions of a date or timestamp column. Passed to the other queries with the
-- TimescaleDB chunks (parameter chunks), so they leave them out as they leave chunks: they come and
-- go by date (a job makes the next months, drop_old_time_partitions drops the old ones), so they
-- differ between two databases of the same schema. The partitioned table itself, its partition
-- key, indexes, constraints, triggers and grants are schema, and read. Run only when the citus
-- extension is installed (the view is Citus').
SELECT coalesce(array_agg(tp.partition::oid), '{}')
FROM pg_catalog.time_partitions AS tp
JOIN pg_class AS c ON c.oid = tp.partition
JOIN pg_class AS p ON p.oid = tp.parent_table
JOIN pg_attribute AS a ON a.attrelid = p.oid AND a.attname = tp.partition_column
CROSS JOIN LATERAL (SELECT substring(c.relname FROM '_p[0-9]{4}[0-9wq_]*$') AS suffix) AS s
WHERE a.atttypid IN ('date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)
  AND s.suffix IS NOT NULL AND length(c.relname) > length(s.suffix)
  AND starts_with(p.relname, left(c.relname, length(c.relname) - length(s.suffix)))
