-- Check array and polymorphic references one tenant at a time, and name the resource tables by
-- name instead of by oid.
--
-- Why: a step towards Citus (issue 16, docs/citus.md), with no change of behaviour on one server.
--  * app.enforce_same_tenant_ids() and app.enforce_same_tenant_resource() joined the statement's
--    transition table with the referenced table. On Citus the transition table is local to a
--    shard and the referenced table distributed, and such a join fails ("could not run
--    distributed query with complex table expressions"). They now read the transition table
--    alone to gather each tenant's ids (and app.resource_types on its own), then ask the
--    referenced table once per tenant (`tenant_id = $1`, the ids as an array), a query Citus
--    routes to one shard. The errors are the same: an offending id, and no word on whether it
--    belongs to another tenant or to nobody.
--  * app.resource_types.table_name was a REGCLASS: an oid, which differs on every node of a
--    Citus cluster and changes when Citus rebuilds a table. It holds the schema-qualified name;
--    the triggers resolve it where they run.
SET LOCAL ROLE maplatform_owner;
-- regclass prints without its schema when the schema is on the search path: none here but pg_catalog.
SET LOCAL search_path = pg_catalog;

-- dbtool-lint: ignore squawk/changing-column-type because app.resource_types holds ten rows the schema wrote
ALTER TABLE app.resource_types ALTER COLUMN table_name TYPE TEXT USING table_name::TEXT;
-- dbtool-lint: ignore squawk/constraint-missing-not-valid because app.resource_types holds ten rows
ALTER TABLE app.resource_types ADD CONSTRAINT resource_types_table_name_qualified
CHECK (table_name ~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$' AND table_name !~ '^(pg_|information_schema\.)');
COMMENT ON COLUMN app.resource_types.table_name IS
    'Schema-qualified name of the table that resource type''s ids point at (a name, not an oid: Citus)';

-- dbtool-lint: ignore migration-recreates because the triggers of 0005-0013 call it: it must exist when they run
CREATE OR REPLACE FUNCTION app.enforce_same_tenant_ids()
RETURNS TRIGGER
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    array_column TEXT := TG_ARGV[0];
    target REGCLASS := TG_ARGV[1]::REGCLASS;
    tenant UUID;
    ids UUID[];
    offending TEXT;
BEGIN
    EXECUTE format('SELECT 1 FROM new_rows AS n, unnest(n.%I) AS r (ref) WHERE r.ref IS NULL LIMIT 1', array_column)
    INTO offending;
    IF offending IS NOT NULL THEN
        offending := 'NULL';
    END IF;
    FOR tenant, ids IN EXECUTE format(
        $q$SELECT n.tenant_id, array_agg(DISTINCT r.ref)
           FROM new_rows AS n CROSS JOIN LATERAL unnest(n.%I) AS r (ref)
           WHERE r.ref IS NOT NULL GROUP BY n.tenant_id$q$, array_column)
    LOOP
        EXIT WHEN offending IS NOT NULL;
        EXECUTE format(
            $q$SELECT r.ref::TEXT FROM unnest($2) AS r (ref)
               WHERE NOT EXISTS (SELECT 1 FROM %s AS t WHERE t.tenant_id = $1 AND t.id = r.ref)
               LIMIT 1$q$, target)
        USING tenant, ids
        INTO offending;
    END LOOP;
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

-- dbtool-lint: ignore migration-recreates because the triggers of 0013 call it: it must exist when they run
CREATE OR REPLACE FUNCTION app.enforce_same_tenant_resource()
RETURNS TRIGGER
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    type_column TEXT := TG_ARGV[0];
    id_column TEXT := TG_ARGV[1];
    kind_type TEXT;
    kind_table TEXT;
    tenant UUID;
    ids UUID[];
    offending TEXT;
BEGIN
    FOR kind_type IN EXECUTE format('SELECT DISTINCT n.%1$I::TEXT FROM new_rows AS n WHERE n.%2$I IS NOT NULL',
                                    type_column, id_column)
    LOOP
        kind_table := (SELECT r.table_name FROM app.resource_types AS r WHERE r.resource_type = kind_type);
        IF kind_table IS NULL THEN
            RAISE EXCEPTION 'insert or update on table "%" violates same-tenant reference "%"', TG_TABLE_NAME, id_column
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('%s %s is not a known resource type.', type_column,
                                      coalesce(quote_literal(kind_type), 'NULL')),
                      HINT = 'app.resource_types lists the resource types: '
                             || (SELECT string_agg(resource_type, ', ' ORDER BY resource_type) FROM app.resource_types),
                      TABLE = TG_TABLE_NAME, COLUMN = type_column;
        END IF;
        FOR tenant, ids IN EXECUTE format(
            $q$SELECT n.tenant_id, array_agg(DISTINCT n.%2$I) FROM new_rows AS n
               WHERE n.%1$I = $1 AND n.%2$I IS NOT NULL GROUP BY n.tenant_id$q$, type_column, id_column)
            USING kind_type
        LOOP
            EXECUTE format(
                $q$SELECT r.ref::TEXT FROM unnest($2) AS r (ref)
                   WHERE NOT EXISTS (SELECT 1 FROM %s AS t WHERE t.tenant_id = $1 AND t.id = r.ref)
                   LIMIT 1$q$, kind_table::REGCLASS)
            USING tenant, ids
            INTO offending;
            IF offending IS NOT NULL THEN
                RAISE EXCEPTION 'insert or update on table "%" violates same-tenant reference "%"', TG_TABLE_NAME,
                    id_column
                    USING ERRCODE = 'foreign_key_violation',
                          DETAIL = format('%s %s is not the id of a %s of the same tenant.', id_column, offending,
                                          kind_type),
                          TABLE = TG_TABLE_NAME, COLUMN = id_column;
            END IF;
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;
