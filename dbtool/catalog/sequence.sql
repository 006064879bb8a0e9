-- Sequences (including those behind serial and identity columns): parameters, the column that
-- owns them, owner, privileges, comment. The current value is data and is left out.
SELECT n.nspname || '.' || c.relname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'type', format_type(s.seqtypid, NULL),
           'start', s.seqstart,
           'increment', s.seqincrement,
           'min', s.seqmin,
           'max', s.seqmax,
           'cache', s.seqcache,
           'cycle', s.seqcycle,
           'owned_by', (SELECT tn.nspname || '.' || t.relname || '.' || a.attname
                        FROM pg_depend AS d
                        JOIN pg_class AS t ON t.oid = d.refobjid
                        JOIN pg_namespace AS tn ON tn.oid = t.relnamespace
                        JOIN pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                          AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                          AND d.refobjsubid > 0),
           'owner', pg_get_userbyid(c.relowner),
           'privileges', (SELECT jsonb_object_agg(g.grantee, g.privileges) FROM (
                              SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                                     to_jsonb(array_agg(DISTINCT a.privilege_type
                                              || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)) AS privileges
                              FROM aclexplode(coalesce(c.relacl, acldefault('s', c.relowner))) AS a
                              GROUP BY 1) AS g),
           'comment', obj_description(c.oid, 'pg_class'))) AS attrs
FROM pg_sequence AS s
JOIN pg_class AS c ON c.oid = s.seqrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
