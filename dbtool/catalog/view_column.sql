-- Columns of views, materialized views and continuous aggregates' user views: position, type,
-- default (ALTER VIEW ... ALTER COLUMN ... SET DEFAULT, which inserts through the view use),
-- column privileges, comment. The definition (kind view) already fixes names and types; this kind
-- adds what it does not say: the comments (COMMENT ON COLUMN of a view, which `dbtool docs` shows)
-- and the column grants, so that neither drifts unseen.
SELECT n.nspname || '.' || c.relname || '.' || a.attname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'position', a.attnum,
           'type', format_type(a.atttypid, a.atttypmod),
           'default', pg_get_expr(ad.adbin, ad.adrelid),
           'privileges', (SELECT jsonb_object_agg(g.grantee, g.privileges) FROM (
                              SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END AS grantee,
                                     to_jsonb(array_agg(DISTINCT x.privilege_type
                                              || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)) AS privileges
                              FROM aclexplode(a.attacl) AS x
                              GROUP BY 1) AS g),
           'comment', col_description(a.attrelid, a.attnum))) AS attrs
FROM pg_attribute AS a
JOIN pg_class AS c ON c.oid = a.attrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef AS ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE c.relkind IN ('v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
