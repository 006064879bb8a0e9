-- Not a kind: the relations that are TimescaleDB chunks (compressed ones included), passed to the
-- other queries as parameter chunks so they leave them out wherever the chunks live.
-- Run only when the timescaledb extension is installed.
SELECT coalesce(array_agg(c.oid), '{}')
FROM _timescaledb_catalog.chunk AS ch
JOIN pg_namespace AS n ON n.nspname = ch.schema_name
JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = ch.table_name
