-- User-defined types: enums (labels in order), composite types (attributes in order), domains
-- (base type, NOT NULL, default, constraints), ranges, base types; owner, USAGE privileges,
-- comment. Row types of tables, array types and the multiranges of ranges come with their
-- owning object and are left out.
SELECT n.nspname || '.' || t.typname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'kind', CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'c' THEN 'composite' WHEN 'd' THEN 'domain'
                                  WHEN 'r' THEN 'range' ELSE 'base' END,
           'labels', CASE WHEN t.typtype = 'e' THEN
                         (SELECT to_jsonb(array_agg(e.enumlabel ORDER BY e.enumsortorder))
                          FROM pg_enum AS e WHERE e.enumtypid = t.oid) END,
           'attributes', CASE WHEN t.typtype = 'c' THEN
                         (SELECT to_jsonb(array_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                                                    ORDER BY a.attnum))
                          FROM pg_attribute AS a
                          WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END,
           'base_type', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
           'subtype', CASE WHEN t.typtype = 'r' THEN
                         (SELECT format_type(r.rngsubtype, NULL) FROM pg_range AS r WHERE r.rngtypid = t.oid) END,
           'not_null', CASE WHEN t.typtype = 'd' THEN t.typnotnull END,
           'default', t.typdefault,
           'constraints', CASE WHEN t.typtype = 'd' THEN
                         (SELECT jsonb_object_agg(k.conname, pg_get_constraintdef(k.oid))
                          FROM pg_constraint AS k WHERE k.contypid = t.oid) END,
           'owner', pg_get_userbyid(t.typowner),
           'privileges', (SELECT jsonb_object_agg(g.grantee, g.privileges) FROM (
                              SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                                     to_jsonb(array_agg(DISTINCT a.privilege_type
                                              || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)) AS privileges
                              FROM aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) AS a
                              GROUP BY 1) AS g),
           'comment', obj_description(t.oid, 'pg_type'))) AS attrs
FROM pg_type AS t
JOIN pg_namespace AS n ON n.oid = t.typnamespace
LEFT JOIN pg_class AS c ON c.oid = t.typrelid
WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r')
  AND (t.typtype <> 'c' OR c.relkind = 'c')
  AND NOT EXISTS (SELECT FROM pg_type AS el WHERE el.typarray = t.oid)
  AND n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
