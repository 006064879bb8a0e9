-- Tables (ordinary, partitioned, foreign): owner, row-level security, options, partitioning,
-- privileges per role, comment. TimescaleDB chunks (parameter chunks: their oids) are skipped, in
-- _timescaledb_internal or in the schema a hypertable was given (associated_schema_name).
SELECT n.nspname || '.' || c.relname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'kind', CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' END,
           'owner', pg_get_userbyid(c.relowner),
           'rls_enabled', c.relrowsecurity,
           'rls_forced', c.relforcerowsecurity,
           'unlogged', CASE WHEN c.relpersistence = 'u' THEN true END,
           'options', to_jsonb(c.reloptions),
           'replica_identity', CASE c.relreplident WHEN 'n' THEN 'nothing' WHEN 'f' THEN 'full'
                                                   WHEN 'i' THEN 'index' END,
           'partition_key', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
           'partition_bound', pg_get_expr(c.relpartbound, c.oid),
           'inherits', (SELECT to_jsonb(array_agg(p.oid::regclass::text ORDER BY i.inhseqno))
                        FROM pg_inherits AS i JOIN pg_class AS p ON p.oid = i.inhparent
                        WHERE i.inhrelid = c.oid),
           'privileges', (SELECT jsonb_object_agg(g.grantee, g.privileges) FROM (
                              SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                                     to_jsonb(array_agg(DISTINCT a.privilege_type
                                              || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)) AS privileges
                              FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
                              GROUP BY 1) AS g),
           'comment', obj_description(c.oid, 'pg_class'))) AS attrs
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'f')
  AND n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT c.oid = ANY (%(chunks)s)  -- TimescaleDB chunks, wherever their schema
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
