-- Schemas of the application: owner, privileges per role, comment.
-- Every query in this folder reads the catalog in one set-based pass and skips what is not
-- application schema: system and TimescaleDB-internal schemas, dbtool's bookkeeping (parameters
-- skip_schemas / skip_schema_re) and objects that belong to an extension (pg_depend deptype 'e').
SELECT n.nspname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'owner', pg_get_userbyid(n.nspowner),
           'privileges', (SELECT jsonb_object_agg(g.grantee, g.privileges) FROM (
                              SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                                     to_jsonb(array_agg(DISTINCT a.privilege_type
                                              || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)) AS privileges
                              FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a
                              GROUP BY 1) AS g),
           'comment', obj_description(n.oid, 'pg_namespace'))) AS attrs
FROM pg_namespace AS n
WHERE n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
