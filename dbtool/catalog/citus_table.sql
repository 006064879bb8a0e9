-- Citus tables, read from the coordinator's metadata (pg_dist_partition): how each table is
-- distributed is schema, since undistributing it, another distribution column, another shard count
-- or another co-location group changes which queries Citus can route to one shard. type mirrors
-- the citus_tables view (which is not read: it asks every worker for shard sizes): distributed,
-- reference, local (a Citus local table on the coordinator), schema (in a distributed schema).
-- colocation_group names a group by its first table in byte order (COLLATE "C": not the database's
-- collation), because the colocation id differs between clusters; a table alone in its group names
-- itself. Shards, their ids and placements are not schema (they differ between clusters and move
-- with rebalancing) and are left out, as are time partitions (parameter chunks: they come and go by
-- date; each is a distributed table of its own, as its partitioned table is). Run only when the citus extension is installed (Citus 12+:
-- pg_dist_schema).
SELECT n.nspname || '.' || c.relname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'type', t.type,
           'method', CASE WHEN p.partkey IS NOT NULL
                          THEN CASE p.partmethod WHEN 'h' THEN 'hash' WHEN 'r' THEN 'range' WHEN 'a' THEN 'append'
                                                 ELSE p.partmethod::text END END,
           'distribution_column', column_to_column_name(p.logicalrelid, p.partkey),
           'shard_count', CASE WHEN t.type IN ('distributed', 'schema')
                               THEN (SELECT count(*) FROM pg_dist_shard AS s WHERE s.logicalrelid = p.logicalrelid) END,
           'colocation_group', CASE WHEN t.type IN ('distributed', 'schema')
                                    THEN (SELECT min((gn.nspname || '.' || gc.relname) COLLATE "C")
                                          FROM pg_dist_partition AS g
                                          JOIN pg_class AS gc ON gc.oid = g.logicalrelid
                                          JOIN pg_namespace AS gn ON gn.oid = gc.relnamespace
                                          WHERE g.colocationid = p.colocationid) END
       )) AS attrs
FROM pg_dist_partition AS p
JOIN pg_class AS c ON c.oid = p.logicalrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT CASE WHEN p.colocationid IN (SELECT colocationid FROM pg_dist_schema) THEN 'schema'
                                WHEN p.partkey IS NOT NULL THEN 'distributed'
                                WHEN p.repmodel = 't' THEN 'reference'
                                WHEN p.colocationid = 0 THEN 'local'
                                ELSE 'distributed' END AS type) AS t
WHERE n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT c.oid = ANY (%(chunks)s)  -- Citus' time partitions
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
