-- Connections and transaction/tuple counters of each application database.
SET LOCAL ROLE maplatform_owner;

DROP VIEW IF EXISTS ops.connection_stats;
CREATE VIEW ops.connection_stats AS
SELECT
    datname,
    numbackends,
    xact_commit,
    xact_rollback,
    blks_read,
    blks_hit,
    tup_returned,
    tup_fetched,
    tup_inserted,
    tup_updated,
    tup_deleted
FROM pg_catalog.pg_stat_database
WHERE datname NOT IN ('template0', 'template1', 'postgres');
REVOKE ALL ON ops.connection_stats FROM PUBLIC;
GRANT SELECT ON ops.connection_stats TO maplatform_ops;
COMMENT ON VIEW ops.connection_stats IS
    'Connections and transaction, block and tuple counters per application database (pg_stat_database); for '
    'maplatform_ops';
