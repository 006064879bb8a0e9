-- ALTER DEFAULT PRIVILEGES: what objects a role creates later will grant, per schema (or in every
-- schema, shown as *) and object type.
SELECT pg_get_userbyid(da.defaclrole) || ' in ' || coalesce(n.nspname, '*') || ' on '
       || CASE da.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
                                WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' END AS name,
       jsonb_build_object(
           'privileges', (SELECT jsonb_object_agg(g.grantee, g.privileges) FROM (
                              SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee,
                                     to_jsonb(array_agg(DISTINCT a.privilege_type
                                              || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)) AS privileges
                              FROM aclexplode(da.defaclacl) AS a
                              GROUP BY 1) AS g)) AS attrs
FROM pg_default_acl AS da
LEFT JOIN pg_namespace AS n ON n.oid = da.defaclnamespace
WHERE n.oid IS NULL OR (n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s)
