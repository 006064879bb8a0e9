-- Undoes 0021_check_references_per_tenant: the triggers' functions as 0003 and 0013 made them,
-- app.resource_types.table_name a REGCLASS again.
SET LOCAL ROLE maplatform_owner;

CREATE OR REPLACE FUNCTION app.enforce_same_tenant_resource()
RETURNS TRIGGER
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    type_column TEXT := TG_ARGV[0];
    id_column TEXT := TG_ARGV[1];
    kind_type TEXT;
    kind_table REGCLASS;
    offending TEXT;
BEGIN
    FOR kind_type, kind_table IN EXECUTE format(
        $q$SELECT DISTINCT n.%1$I::TEXT AS resource_type, r.table_name
           FROM new_rows AS n LEFT JOIN app.resource_types AS r ON r.resource_type = n.%1$I
           WHERE n.%2$I IS NOT NULL$q$, type_column, id_column)
    LOOP
        IF kind_table IS NULL THEN
            RAISE EXCEPTION 'insert or update on table "%" violates same-tenant reference "%"', TG_TABLE_NAME, id_column
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('%s %s is not a known resource type.', type_column,
                                      coalesce(quote_literal(kind_type), 'NULL')),
                      HINT = 'app.resource_types lists the resource types: '
                             || (SELECT string_agg(resource_type, ', ' ORDER BY resource_type) FROM app.resource_types),
                      TABLE = TG_TABLE_NAME, COLUMN = type_column;
        END IF;
        EXECUTE format(
            $q$SELECT n.%2$I::TEXT
               FROM new_rows AS n
               WHERE n.%1$I = $1 AND n.%2$I IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM %3$s AS t WHERE t.tenant_id = n.tenant_id AND t.id = n.%2$I)
               LIMIT 1$q$, type_column, id_column, kind_table)
        USING kind_type
        INTO offending;
        IF offending IS NOT NULL THEN
            RAISE EXCEPTION 'insert or update on table "%" violates same-tenant reference "%"', TG_TABLE_NAME, id_column
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('%s %s is not the id of a %s of the same tenant.', id_column, offending,
                                      kind_type),
                      TABLE = TG_TABLE_NAME, COLUMN = id_column;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE OR REPLACE FUNCTION app.enforce_same_tenant_ids()
RETURNS TRIGGER
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    array_column TEXT := TG_ARGV[0];
    target REGCLASS := TG_ARGV[1]::REGCLASS;
    offending TEXT;
BEGIN
    EXECUTE format(
        $q$SELECT coalesce(r.ref::TEXT, 'NULL')
           FROM new_rows AS n CROSS JOIN LATERAL unnest(n.%1$I) AS r (ref)
           WHERE r.ref IS NULL
              OR NOT EXISTS (SELECT 1 FROM %2$s AS t WHERE t.tenant_id = n.tenant_id AND t.id = r.ref)
           LIMIT 1$q$, array_column, target)
    INTO offending;
    IF offending IS NOT NULL THEN
        RAISE EXCEPTION 'insert or update on table "%" violates same-tenant reference "%"', TG_TABLE_NAME, array_column
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('%s holds %s, which is not the id of a row of %s of the same tenant.',
                                  array_column, offending, target),
                  TABLE = TG_TABLE_NAME, COLUMN = array_column;
    END IF;
    RETURN NULL;
END
$$;
ALTER TABLE app.resource_types DROP CONSTRAINT resource_types_table_name_qualified;
ALTER TABLE app.resource_types ALTER COLUMN table_name TYPE REGCLASS USING table_name::REGCLASS;
COMMENT ON COLUMN app.resource_types.table_name IS 'Table that resource type''s ids point at';
