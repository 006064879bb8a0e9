-- Views and materialized views: definition (pretty-printed, so a review diff shows the changed
-- line), options such as security_invoker / security_barrier / check_option, owner, privileges,
-- comment. Whether a materialized view is populated is data, not schema, and is left out.
-- The user-facing views of continuous aggregates are reported as kind continuous_aggregate.
SELECT n.nspname || '.' || c.relname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'kind', CASE c.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
           'definition', pg_get_viewdef(c.oid, true),
           'options', to_jsonb(c.reloptions),
           'owner', pg_get_userbyid(c.relowner),
           'privileges', (SELECT jsonb_object_agg(g.grantee, g.privileges) FROM (
                              SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                                     to_jsonb(array_agg(DISTINCT a.privilege_type
                                              || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)) AS privileges
                              FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS a
                              GROUP BY 1) AS g),
           'comment', obj_description(c.oid, 'pg_class'))) AS attrs
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm')
  AND n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
