-- TimescaleDB continuous aggregates: the hypertable they read, their query, real-time or
-- materialized only, compression, owner, privileges, comment. Their materialization hypertables
-- are internal and left out.
SELECT ca.view_schema || '.' || ca.view_name AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'hypertable', ca.hypertable_schema || '.' || ca.hypertable_name,
           'definition', ca.view_definition,
           'materialized_only', ca.materialized_only,
           'compression_enabled', ca.compression_enabled,
           'finalized', ca.finalized,
           'owner', ca.view_owner::text,
           'privileges', (SELECT jsonb_object_agg(g.grantee, g.privileges) FROM (
                              SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                                     to_jsonb(array_agg(DISTINCT a.privilege_type
                                              || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)) AS privileges
                              FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
                              GROUP BY 1) AS g),
           'comment', obj_description(c.oid, 'pg_class'))) AS attrs
FROM timescaledb_information.continuous_aggregates AS ca
JOIN pg_namespace AS n ON n.nspname = ca.view_schema
JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = ca.view_name
