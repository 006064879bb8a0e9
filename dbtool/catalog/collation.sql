-- Collations (CREATE COLLATION): provider (libc, icu), locale (ICU) or LC_COLLATE / LC_CTYPE
-- (libc), ICU rules, deterministic or not, encoding, owner, comment. The collation's version
-- (collversion) is the operating system library's, not schema, and is left out. Columns are read
-- through to_jsonb so the query runs on every release (colliculocale in 15 and 16, colllocale from 17).
SELECT n.nspname || '.' || co.collname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'provider', CASE co.collprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin'
                                            WHEN 'd' THEN 'default' ELSE co.collprovider::text END,
           'locale', coalesce(j.c ->> 'colllocale', j.c ->> 'colliculocale'),
           'lc_collate', co.collcollate,
           'lc_ctype', co.collctype,
           'icu_rules', j.c ->> 'collicurules',
           'deterministic', co.collisdeterministic,
           'encoding', CASE WHEN co.collencoding >= 0 THEN pg_encoding_to_char(co.collencoding) END,
           'owner', pg_get_userbyid(co.collowner),
           'comment', obj_description(co.oid, 'pg_collation'))) AS attrs
FROM pg_collation AS co
JOIN pg_namespace AS n ON n.oid = co.collnamespace
CROSS JOIN LATERAL (SELECT to_jsonb(co) AS c) AS j
WHERE n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_collation'::regclass AND d.objid = co.oid AND d.deptype = 'e')
