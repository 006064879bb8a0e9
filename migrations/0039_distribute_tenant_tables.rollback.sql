-- Undo 0039: every table it made a Citus table becomes a local table of the coordinator again, with its
-- rows, and what Citus does not carry over is put back as it was. Nothing happens without Citus.
--
-- undistribute_table rebuilds each table (a new table, the rows copied from the shards, the old one
-- dropped) and, measured on Citus 13.2.2, keeps columns, keys, foreign keys, indexes, triggers,
-- policies and most grants, but loses the comments of the tables and their columns, a grant list
-- that takes privileges from the owner (0023 took TRUNCATE from the owner role on the audited tables:
-- rebuilt, the owner had them all again), the column grants (0031's UPDATE of documents.folder_id for
-- maintenance), and re-creates the views and materialized views over the table without their grants,
-- comments and indexes. So the comments, table and column grants and materialized view indexes of
-- every relation of the application's schemas are read first and restored after.
-- Tables connected by foreign keys are undistributed together (cascade_via_foreign_keys: a local
-- table may not reference a distributed one), newest first. The keys 0039 made NO ACTION (their
-- comment says so) get their ON DELETE SET NULL back, without the comment.
-- dbtool-lint: ignore owner-role because it undistributes tables of two owners, one of which nobody can act as
DO $$
DECLARE
    app_schemas CONSTANT TEXT[] := ARRAY['public', 'app', 'app_private', 'timeline', 'audit'];
    kept JSONB;
    actions JSONB;
    rel RECORD;
    item RECORD;
    entry RECORD;
    kind TEXT;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', TRUE);
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', TRUE);

    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'name', pg_catalog.format('%I.%I', n.nspname, c.relname),
               'kind', c.relkind,
               'acl', c.relacl::TEXT[],
               'comment', pg_catalog.obj_description(c.oid, 'pg_class'),
               'columns', (SELECT pg_catalog.jsonb_object_agg(a.attname, d.description)
                           FROM pg_catalog.pg_attribute AS a
                           JOIN pg_catalog.pg_description AS d
                             ON d.classoid = 'pg_catalog.pg_class'::REGCLASS AND d.objoid = c.oid
                            AND d.objsubid = a.attnum
                           WHERE a.attrelid = c.oid AND a.attnum > 0),
               'column_acls', (SELECT pg_catalog.jsonb_object_agg(a.attname, a.attacl::TEXT[])
                               FROM pg_catalog.pg_attribute AS a
                               WHERE a.attrelid = c.oid AND a.attnum > 0 AND a.attacl IS NOT NULL),
               'indexes', (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                      'name', pg_catalog.format('%I.%I', n.nspname, i.relname),
                                      'def', pg_catalog.pg_get_indexdef(i.oid),
                                      'comment', pg_catalog.obj_description(i.oid, 'pg_class')))
                           FROM pg_catalog.pg_index AS x
                           JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
                           WHERE x.indrelid = c.oid AND c.relkind = 'm')))
    INTO kept
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition AND n.nspname = ANY (app_schemas);

    -- The keys 0039 made NO ACTION, with the action their comment keeps.
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'tbl', pg_catalog.format('%I.%I', n.nspname, r.relname), 'conname', c.conname,
               'def', pg_catalog.pg_get_constraintdef(c.oid),
               'action', pg_catalog.substring(d.description, '^dbtool 0039: was (ON DELETE SET [^;]*);')))
    INTO actions
    FROM pg_catalog.pg_constraint AS c
    JOIN pg_catalog.pg_class AS r ON r.oid = c.conrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = r.relnamespace
    JOIN pg_catalog.pg_description AS d
      ON d.classoid = 'pg_catalog.pg_constraint'::REGCLASS AND d.objoid = c.oid AND d.objsubid = 0
    WHERE c.contype = 'f' AND d.description LIKE 'dbtool 0039: was ON DELETE SET %';

    -- Newest first: the Citus tables of the application's schemas, each with what its foreign keys connect.
    FOR rel IN
        SELECT p.logicalrelid
        FROM pg_catalog.pg_dist_partition AS p
        JOIN pg_catalog.pg_class AS c ON c.oid = p.logicalrelid
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY (app_schemas) AND NOT c.relispartition
        ORDER BY p.logicalrelid DESC
    LOOP
        IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid = rel.logicalrelid) THEN
            PERFORM pg_catalog.undistribute_table(rel.logicalrelid, cascade_via_foreign_keys => TRUE);
        END IF;
    END LOOP;

    FOR item IN
        SELECT * FROM pg_catalog.jsonb_to_recordset(COALESCE(actions, '[]')) AS a (tbl TEXT, conname TEXT, def TEXT,
                                                                                  action TEXT)
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I %s %s', item.tbl, item.conname,
                                  item.conname, item.def, item.action);
    END LOOP;

    FOR item IN
        SELECT *
        FROM pg_catalog.jsonb_to_recordset(kept) AS k (
            name TEXT, kind TEXT, acl TEXT[], comment TEXT, columns JSONB, column_acls JSONB, indexes JSONB
        )
        WHERE pg_catalog.to_regclass(k.name) IS NOT NULL
    LOOP
        kind := CASE item.kind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END;
        IF pg_catalog.obj_description(item.name::REGCLASS, 'pg_class') IS DISTINCT FROM item.comment THEN
            EXECUTE pg_catalog.format('COMMENT ON %s %s IS %L', kind, item.name, item.comment);
        END IF;
        FOR entry IN SELECT * FROM pg_catalog.jsonb_each_text(COALESCE(item.columns, '{}')) LOOP
            IF pg_catalog.col_description(item.name::REGCLASS,
                                          (SELECT a.attnum FROM pg_catalog.pg_attribute AS a
                                           WHERE a.attrelid = item.name::REGCLASS AND a.attname = entry.key))
               IS DISTINCT FROM entry.value THEN
                EXECUTE pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', item.name, entry.key, entry.value);
            END IF;
        END LOOP;
        FOR entry IN
            SELECT *
            FROM pg_catalog.jsonb_to_recordset(COALESCE(item.indexes, '[]')) AS i (name TEXT, def TEXT, comment TEXT)
            WHERE pg_catalog.to_regclass(i.name) IS NULL
        LOOP
            EXECUTE entry.def;
            IF entry.comment IS NOT NULL THEN
                EXECUTE pg_catalog.format('COMMENT ON INDEX %s IS %L', entry.name, entry.comment);
            END IF;
        END LOOP;
        -- The grants: all taken, then those of before given again (as a superuser's GRANT, each in
        -- the owner's name, as they were), when they differ.
        IF item.acl IS NOT NULL AND (
            SELECT pg_catalog.array_agg(x ORDER BY x)
            FROM pg_catalog.pg_class AS c, pg_catalog.unnest(c.relacl::TEXT[]) AS x
            WHERE c.oid = item.name::REGCLASS
        ) IS DISTINCT FROM (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest(item.acl) AS x) THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', item.name);
            FOR entry IN
                SELECT DISTINCT r.rolname
                FROM pg_catalog.pg_class AS c
                CROSS JOIN LATERAL pg_catalog.aclexplode(
                    COALESCE(c.relacl, pg_catalog.acldefault('r', c.relowner))
                ) AS e
                JOIN pg_catalog.pg_roles AS r ON r.oid = e.grantee
                WHERE c.oid = item.name::REGCLASS
            LOOP
                EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %I', item.name, entry.rolname);
            END LOOP;
            FOR entry IN
                SELECT CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END AS grantee,
                       e.privilege_type, e.is_grantable
                FROM pg_catalog.aclexplode(item.acl::ACLITEM[]) AS e
                LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = e.grantee
            LOOP
                EXECUTE pg_catalog.format('GRANT %s ON %s TO %s%s', entry.privilege_type, item.name, entry.grantee,
                                          CASE WHEN entry.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
            END LOOP;
        END IF;
        -- Then the column grants (0031's UPDATE of the SET NULL columns for maintenance), the same
        -- way, after the table's (REVOKE ALL on a table takes its columns' grants too).
        FOR entry IN
            SELECT k.key AS col, ARRAY(SELECT pg_catalog.jsonb_array_elements_text(k.value)) AS acl
            FROM pg_catalog.jsonb_each(COALESCE(item.column_acls, '{}')) AS k
            WHERE (SELECT a.attacl::TEXT[] FROM pg_catalog.pg_attribute AS a
                   WHERE a.attrelid = item.name::REGCLASS AND a.attname = k.key) IS DISTINCT FROM
                  ARRAY(SELECT pg_catalog.jsonb_array_elements_text(k.value))
        LOOP
            FOR rel IN
                SELECT DISTINCT CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END AS who
                FROM pg_catalog.pg_attribute AS a
                CROSS JOIN LATERAL pg_catalog.aclexplode(a.attacl) AS e
                LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = e.grantee
                WHERE a.attrelid = item.name::REGCLASS AND a.attname = entry.col
            LOOP
                EXECUTE pg_catalog.format('REVOKE ALL (%I) ON %s FROM %s', entry.col, item.name, rel.who);
            END LOOP;
            FOR rel IN
                SELECT CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END AS who,
                       e.privilege_type, e.is_grantable
                FROM pg_catalog.aclexplode(entry.acl::ACLITEM[]) AS e
                LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = e.grantee
            LOOP
                EXECUTE pg_catalog.format('GRANT %s (%I) ON %s TO %s%s', rel.privilege_type, entry.col, item.name,
                                          rel.who, CASE WHEN rel.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
            END LOOP;
        END LOOP;
    END LOOP;
END
$$;
