-- TimescaleDB hypertables: time column and chunk interval, every dimension, the schema its chunks
-- are created in (associated_schema_name: _timescaledb_internal unless given; chunks copy the
-- hypertable's grants but not its row-level security, docs/timescaledb.md), compression settings
-- (enabled, segmentby, orderby, the chunk interval compression merges to). Its policies are kind
-- timescale_job. Run only when the timescaledb extension is installed. Chunks are not schema and
-- are left out.
SELECT h.hypertable_schema || '.' || h.hypertable_name AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'time_column', first_dim.column_name,
           'chunk_interval', coalesce(first_dim.time_interval::text, first_dim.integer_interval::text),
           'other_dimensions', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                                     'column', d.column_name,
                                     'type', d.dimension_type,
                                     'interval', coalesce(d.time_interval::text, d.integer_interval::text),
                                     'partitions', d.num_partitions)) ORDER BY d.dimension_number)
                                FROM timescaledb_information.dimensions AS d
                                WHERE d.hypertable_schema = h.hypertable_schema AND d.hypertable_name = h.hypertable_name
                                  AND d.dimension_number > 1),
           'chunk_schema', ht.associated_schema_name,
           'compression_enabled', h.compression_enabled,
           'compress_segmentby', s.segmentby,
           'compress_orderby', s.orderby,
           'compress_chunk_interval', s.compress_interval_length
       )) AS attrs
FROM timescaledb_information.hypertables AS h
LEFT JOIN LATERAL (SELECT d.column_name, d.time_interval, d.integer_interval
                   FROM timescaledb_information.dimensions AS d
                   WHERE d.hypertable_schema = h.hypertable_schema AND d.hypertable_name = h.hypertable_name
                   ORDER BY d.dimension_number LIMIT 1) AS first_dim ON TRUE
JOIN _timescaledb_catalog.hypertable AS ht
    ON ht.schema_name = h.hypertable_schema AND ht.table_name = h.hypertable_name
LEFT JOIN timescaledb_information.hypertable_compression_settings AS s
    ON s.hypertable = format('%%I.%%I', h.hypertable_schema, h.hypertable_name)::regclass
WHERE h.hypertable_schema <> ALL (%(skip_schemas)s) AND h.hypertable_schema !~ %(skip_schema_re)s
