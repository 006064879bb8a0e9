-- Functions, procedures, aggregates and window functions, named by signature: arguments with
-- names and defaults, result, language, body, volatility, strictness, SECURITY DEFINER, parallel
-- safety, cost, settings such as search_path, owner, EXECUTE privileges per role, comment.
-- Functions that belong to an extension (uuid_generate_v4, time_bucket, ...) are left out.
SELECT n.nspname || '.' || p.proname || '(' || oidvectortypes(p.proargtypes) || ')' AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'kind', CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure'
                                  WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window' END,
           'arguments', pg_get_function_arguments(p.oid),
           'returns', pg_get_function_result(p.oid),
           'language', l.lanname,
           'body', CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END,
           'volatility', CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END,
           'strict', p.proisstrict,
           'security_definer', p.prosecdef,
           'leakproof', CASE WHEN p.proleakproof THEN true END,
           'parallel', CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted' ELSE 'unsafe' END,
           'cost', p.procost,
           'rows', CASE WHEN p.proretset THEN p.prorows END,
           'config', to_jsonb(p.proconfig),
           'owner', pg_get_userbyid(p.proowner),
           'privileges', (SELECT jsonb_object_agg(g.grantee, g.privileges) FROM (
                              SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                                     to_jsonb(array_agg(DISTINCT a.privilege_type
                                              || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)) AS privileges
                              FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
                              GROUP BY 1) AS g),
           'comment', obj_description(p.oid, 'pg_proc'))) AS attrs
FROM pg_proc AS p
JOIN pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_language AS l ON l.oid = p.prolang
WHERE n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
