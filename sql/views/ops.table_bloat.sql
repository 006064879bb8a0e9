-- Size of every table and its share of the database, plus dead tuples (the bloat indicator the
-- document's size-only query lacks). Names are looked up through pg_class rather than by
-- concatenating schema and table names, which breaks on names that need quoting.
SET LOCAL ROLE maplatform_owner;

DROP VIEW IF EXISTS ops.table_bloat;
CREATE VIEW ops.table_bloat AS
SELECT
    t.schemaname,
    t.tablename,
    pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(c.oid)) AS size,
    round(
        100 * pg_catalog.pg_total_relation_size(c.oid)
        / nullif(sum(pg_catalog.pg_total_relation_size(c.oid)) OVER (), 0), 2
    ) AS percentage,
    s.n_live_tup,
    s.n_dead_tup,
    round(100.0 * s.n_dead_tup / nullif(s.n_live_tup + s.n_dead_tup, 0), 2) AS dead_tuple_percentage
FROM pg_catalog.pg_tables AS t
INNER JOIN pg_catalog.pg_namespace AS n ON t.schemaname = n.nspname
INNER JOIN pg_catalog.pg_class AS c ON n.oid = c.relnamespace AND t.tablename = c.relname
LEFT JOIN pg_catalog.pg_stat_all_tables AS s ON c.oid = s.relid
WHERE t.schemaname NOT IN ('pg_catalog', 'information_schema')
ORDER BY pg_catalog.pg_total_relation_size(c.oid) DESC;
REVOKE ALL ON ops.table_bloat FROM PUBLIC;
GRANT SELECT ON ops.table_bloat TO maplatform_ops;
COMMENT ON VIEW ops.table_bloat IS
    'Size of every table, its share of the database and its dead tuples, largest first; for maplatform_ops';
