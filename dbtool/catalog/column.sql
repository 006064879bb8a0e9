-- Columns of tables: position among the live columns (SELECT * and INSERT without a column list
-- depend on it), type, NOT NULL, default, generated expression, identity, collation when not the
-- type's, storage and statistics target when changed, column privileges, comment. A column of an
-- inheritance child (INHERITS, not a partition) also shows how many parents it comes from
-- (inherited) and whether the child declares it too (local: CREATE TABLE c (x int) INHERITS (p)
-- rather than CREATE TABLE c () INHERITS (p); a local column stays when the parent is detached or
-- drops it). Partitions are left out of that: their columns always come from the parent, and
-- whether a partition was created PARTITION OF or attached (and so local) says nothing.
SELECT n.nspname || '.' || c.relname || '.' || a.attname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'position', row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
           'type', format_type(a.atttypid, a.atttypmod),
           'not_null', a.attnotnull,
           'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
           'generated', CASE WHEN a.attgenerated = 's' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
           'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
           'collation', CASE WHEN a.attcollation <> t.typcollation
                             THEN CASE WHEN co.collnamespace = 'pg_catalog'::regnamespace THEN quote_ident(co.collname)
                                       ELSE quote_ident(con.nspname) || '.' || quote_ident(co.collname) END END,
           'storage', CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END,
           'statistics', CASE WHEN a.attstattarget >= 0 THEN a.attstattarget END,
           'inherited', CASE WHEN a.attinhcount > 0 AND NOT c.relispartition THEN a.attinhcount END,
           'local', CASE WHEN a.attinhcount > 0 AND NOT c.relispartition THEN a.attislocal END,
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
JOIN pg_type AS t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef AS ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation AS co ON co.oid = a.attcollation
LEFT JOIN pg_namespace AS con ON con.oid = co.collnamespace
WHERE c.relkind IN ('r', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT c.oid = ANY (%(chunks)s)  -- TimescaleDB chunks, wherever their schema
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
