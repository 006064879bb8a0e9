-- Distribute the tenant tables on a Citus coordinator: the small global tables as reference tables,
-- every table with a tenant_id column by tenant_id, all in one co-location group (public.deals's).
--
-- Why: the architecture document asks for horizontal partitioning, and issue 16 builds it on Citus
-- (docs/citus.md, the last step of its plan): each tenant's rows of every table on one shard, so a
-- tenant's queries and joins run on one worker and the foreign keys hold per shard. The earlier steps
-- made the schema distributable (keys and unique constraints with tenant_id, no SET NULL keys, no
-- trigger on a reference table writing elsewhere, policies without sub-selects, the tenant context
-- propagated, the timeline and audit trail as time partitions). On plain PostgreSQL, with or
-- without TimescaleDB, nothing happens: the block returns when this database has no citus extension.
--
-- What, in this order, in one transaction (measured on Citus 13.2.2, docs/citus.md):
-- 1. Refused first: a Citus coordinator without workers (nothing to distribute to), a table with
--    tenant_id that is still a TimescaleDB hypertable (Citus accepts one, and every insert into its
--    shards then fails on ts_insert_blocker), or one distributed by another column. Then a foreign
--    key with ON DELETE SET NULL (column), which Citus refuses, becomes the same key without the action
--    when a trigger of the referenced table clears the column (the timeline's two: 0031's
--    ops.set_null_on_delete does it on every server; 0031 could not change the keys of a compressed
--    hypertable, and 0038 copied them); its comment keeps the action for the rollback. Otherwise it is
--    refused.
-- 2. The foreign keys that point to the future reference tables are dropped, and added back at the
--    end: create_reference_table on a table that local tables reference turns every table connected
--    to it by a foreign key into a Citus local table, which Citus rebuilds, re-creating the views and
--    materialized views over them without their grants, comments and indexes (measured:
--    pipeline_analytics lost both its indexes, tenant_pipeline_analytics its grants); and then a
--    table referenced by a Citus local table cannot be distributed. The tables' own triggers are
--    disabled meanwhile: they fire on the shards while Citus copies the rows there (measured: the
--    polymorphic check of comments looked for public.deals on a worker, where it does not exist until
--    this transaction commits; the audit triggers would record the rows again), and the rows were
--    checked when they were written.
-- 3. The reference tables (a copy on every node): the signing keys, the token registry (its tenant
--    is checked by app.verified_tenant() inside every shard's query), the resource types the
--    polymorphic checks read, the tenants (every tenant table's tenant_id references them), and the
--    lookups of the global unique values.
-- 4. Every other table of the application's schemas with a tenant_id column (not a partition, not
--    a chunk), by tenant_id, in the order of their foreign keys (a table before those that
--    reference it: Citus refuses a distributed table referencing a local one), each co-located with
--    the first. With citus.enable_unsafe_triggers (the triggers run on the shards: their checks read
--    the statement's rows and query one tenant at a time, 0021) and sequential mode (foreign keys
--    between tables distributed in one transaction need it).
-- 5. The dropped foreign keys, the same definitions and names, now from distributed (or reference)
--    tables to reference tables; the triggers enabled again as they were, on every shard.
-- A table already distributed the same way (by a DBA who distributed it online beforehand, see
-- docs/citus.md) is left as it is. The views and materialized views are checked at the end: if Citus
-- re-created one, the migration fails rather than leave it without its grants, comments and indexes.
-- The materialized views stay on the coordinator (they read the distributed tables when refreshed).
-- create_distributed_table copies a table's rows to the shards under a lock that blocks writes to it
-- until this transaction ends: fine from empty and for small databases; a populated production
-- database distributes its large tables online first, table by table, with
-- create_distributed_table_concurrently (docs/citus.md, "Distributing a populated database").
-- Runs as the migrating superuser (no SET ROLE): audit.events belongs to maplatform_audit_owner, which
-- cannot log in anywhere, and Citus opens the workers' connections as the current role.
-- dbtool-lint: ignore owner-role because it distributes tables of two owners, one of which nobody can act as
DO $$
DECLARE
    -- The global tables, each small and read from every shard's queries.
    reference_tables CONSTANT TEXT[] := ARRAY[
        'app_private.tenant_keys', 'app.tenant_tokens', 'app.resource_types', 'public.tenants'
    ];
    -- Where the application's tables live (dbtool's own schema and ops hold no tenant rows).
    app_schemas CONSTANT TEXT[] := ARRAY['public', 'app', 'app_private', 'timeline', 'audit'];
    reference_oids OID[];
    tenant_tables OID[];
    done OID[] := '{}';
    anchor REGCLASS;
    next_table REGCLASS;
    fk RECORD;
    dropped JSONB := '[]';
    views_before JSONB;
    rebuilt TEXT;
    triggers JSONB;
    bad TEXT;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;  -- plain PostgreSQL: nothing to distribute
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_node WHERE groupid <> 0 AND noderole = 'primary' AND isactive) THEN
        RAISE EXCEPTION 'this Citus coordinator has no worker: 0039 distributes the tenant tables to the workers'
            USING HINT = 'SELECT citus_add_node(''<worker host>'', <port>) for each worker, then migrate again';
    END IF;

    -- The reference tables that exist (a lookup table of a later schema may not).
    SELECT pg_catalog.array_agg(pg_catalog.to_regclass(t)::OID ORDER BY o)
    INTO reference_oids
    FROM pg_catalog.unnest(reference_tables) WITH ORDINALITY AS r (t, o)
    WHERE pg_catalog.to_regclass(t) IS NOT NULL;
    SELECT pg_catalog.array_agg(c.oid ORDER BY c.oid)
    INTO tenant_tables
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND n.nspname = ANY (app_schemas)
      AND c.oid <> ALL (reference_oids)
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_inherits AS i WHERE i.inhrelid = c.oid);  -- chunks

    -- 1. What cannot be distributed as it is.
    IF pg_catalog.to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL THEN
        EXECUTE $q$
            SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', h.schema_name, h.table_name), ', ')
            FROM _timescaledb_catalog.hypertable AS h
            WHERE pg_catalog.format('%I.%I', h.schema_name, h.table_name)::REGCLASS::OID = ANY ($1)$q$
        INTO bad USING tenant_tables;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'cannot distribute %: a TimescaleDB hypertable (Citus would accept it, and every '
                'insert into its shards would then fail)', bad
                USING HINT = 'on Citus the time-partitioned tables are plain tables partitioned by time (0038): '
                             'roll back past 0038 and migrate again';
        END IF;
    END IF;
    SELECT pg_catalog.string_agg(p.logicalrelid::TEXT, ', ')
    INTO bad
    FROM pg_catalog.pg_dist_partition AS p
    WHERE p.logicalrelid = ANY (tenant_tables)
      AND p.partmethod = 'h'
      AND pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) <> 'tenant_id';
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'already distributed by another column than tenant_id: %', bad
            USING HINT = 'SELECT alter_distributed_table(''<table>'', distribution_column := ''tenant_id'')';
    END IF;

    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', TRUE);
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', TRUE);
    SELECT pg_catalog.jsonb_object_agg(c.oid::REGCLASS::TEXT, c.oid)
    INTO views_before
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY (app_schemas);

    -- 1b. Keys with ON DELETE SET NULL (column), which Citus refuses with the distribution column in the
    -- key: the timeline's two (0031 left them on one server, where TimescaleDB refuses to re-add a key
    -- to a compressed hypertable, and 0038 copied them as they were). The same key without the action,
    -- when a trigger of the referenced table clears that column in that table, as 0031's
    -- ops.set_null_on_delete does for all six: deleting a user or a deal leaves the same rows. The
    -- constraint's comment keeps the action for the rollback.
    FOR fk IN
        SELECT c.oid, c.conrelid::REGCLASS::TEXT AS tbl, c.conname, c.confrelid,
               pg_catalog.format('%I.%I', n.nspname, r.relname) AS qualified,
               pg_catalog.pg_get_constraintdef(c.oid) AS def,
               pg_catalog.substring(pg_catalog.pg_get_constraintdef(c.oid),
                                    ' (ON DELETE SET (?:NULL|DEFAULT)(?: \([^)]*\))?)') AS action,
               pg_catalog.substring(pg_catalog.pg_get_constraintdef(c.oid),
                                    'ON DELETE SET (?:NULL|DEFAULT) \(([^)]*)\)') AS cols
        FROM pg_catalog.pg_constraint AS c
        JOIN pg_catalog.pg_class AS r ON r.oid = c.conrelid
        JOIN pg_catalog.pg_namespace AS n ON n.oid = r.relnamespace
        WHERE c.contype = 'f' AND c.conparentid = 0 AND c.confdeltype IN ('n', 'd') AND c.conrelid = ANY (tenant_tables)
        ORDER BY 2, 3
    LOOP
        IF fk.cols IS NULL OR pg_catalog.strpos(fk.cols, ',') > 0 OR NOT EXISTS (
            SELECT FROM pg_catalog.pg_trigger AS t
            WHERE t.tgrelid = fk.confrelid AND NOT t.tgisinternal
              AND pg_catalog.position(  -- the arguments, each ended by a zero byte: (table, column) in them
                      '\x00'::BYTEA || t.tgargs,
                      '\x00'::BYTEA || pg_catalog.convert_to(fk.qualified, 'UTF8') || '\x00'::BYTEA
                      || pg_catalog.convert_to(fk.cols, 'UTF8') || '\x00'::BYTEA) > 0
        ) THEN
            RAISE EXCEPTION 'cannot distribute %: its key % has %, which Citus refuses, and no trigger of the '
                'referenced table clears the column', fk.tbl, fk.conname, fk.action
                USING HINT = 'clear it in an AFTER DELETE trigger, as 0031''s ops.set_null_on_delete does, and '
                             'make the key NO ACTION (docs/citus.md)';
        END IF;
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I %s', fk.tbl, fk.conname,
                                  fk.conname, pg_catalog.replace(fk.def, ' ' || fk.action, ''));
        EXECUTE pg_catalog.format('COMMENT ON CONSTRAINT %I ON %s IS %L', fk.conname, fk.tbl,
                                  'dbtool 0039: was ' || fk.action || '; NO ACTION on Citus, which refuses it: '
                                  || 'a trigger of the referenced table clears the column');
    END LOOP;

    -- 2. The foreign keys to the reference tables that are not reference tables yet.
    FOR fk IN
        SELECT c.conrelid::REGCLASS::TEXT AS tbl, c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS def
        FROM pg_catalog.pg_constraint AS c
        WHERE c.contype = 'f' AND c.confrelid = ANY (reference_oids)
          AND c.conparentid = 0  -- a partition's copy goes with its partitioned table's
          AND NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
                          WHERE p.logicalrelid = c.confrelid AND p.partmethod = 'n' AND p.repmodel = 't')
        ORDER BY c.conrelid, c.conname
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
        dropped := dropped || pg_catalog.jsonb_build_object('tbl', fk.tbl, 'conname', fk.conname, 'def', fk.def);
    END LOOP;

    -- 2b. The tables' own triggers, off while Citus copies their rows into the shards: they fire there
    -- (measured: comments' polymorphic check looked for public.deals on a worker, which has no such
    -- relation until this transaction commits, and the audit triggers would record the rows again).
    -- The rows were checked when they were written. Each is enabled again at the end, in its mode.
    SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('tbl', t.tgrelid::REGCLASS::TEXT, 'name', t.tgname,
                                                               'mode', t.tgenabled))
    INTO triggers
    FROM pg_catalog.pg_trigger AS t
    WHERE (t.tgrelid = ANY (reference_oids) OR t.tgrelid = ANY (tenant_tables))
      AND NOT t.tgisinternal AND t.tgparentid = 0 AND t.tgenabled <> 'D'
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid = t.tgrelid);
    FOR fk IN
        SELECT * FROM pg_catalog.jsonb_to_recordset(COALESCE(triggers, '[]')) AS g (tbl TEXT, name TEXT, mode TEXT)
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER %I', fk.tbl, fk.name);
    END LOOP;

    -- 3. The reference tables, in the order listed (the keys before the tokens that name them).
    FOR next_table IN
        SELECT r.oid::REGCLASS FROM pg_catalog.unnest(reference_oids) WITH ORDINALITY AS r (oid, o)
        WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p
                          WHERE p.logicalrelid = r.oid AND p.partmethod = 'n' AND p.repmodel = 't')
        ORDER BY r.o
    LOOP
        PERFORM pg_catalog.create_reference_table(next_table);
    END LOOP;

    -- 4. The tenant tables, each after the tables it references; those distributed already first.
    SELECT pg_catalog.array_agg(p.logicalrelid::OID ORDER BY p.logicalrelid::TEXT)
    INTO done
    FROM pg_catalog.pg_dist_partition AS p
    WHERE p.logicalrelid = ANY (tenant_tables) AND p.partmethod = 'h';
    done := COALESCE(done, '{}');
    anchor := done[1];
    LOOP
        SELECT c.oid::REGCLASS
        INTO next_table
        FROM pg_catalog.unnest(tenant_tables) AS c (oid)
        WHERE c.oid <> ALL (done)
          AND NOT EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
                          WHERE k.contype = 'f' AND k.conrelid = c.oid AND k.confrelid <> c.oid
                            AND k.confrelid = ANY (tenant_tables) AND k.confrelid <> ALL (done))
        ORDER BY c.oid::REGCLASS::TEXT
        LIMIT 1;
        EXIT WHEN next_table IS NULL;
        PERFORM pg_catalog.create_distributed_table(next_table, 'tenant_id',
                                                    colocate_with => COALESCE(anchor::TEXT, 'none'));
        anchor := COALESCE(anchor, next_table);
        done := done || next_table::OID;
    END LOOP;
    SELECT pg_catalog.string_agg(c.oid::REGCLASS::TEXT, ', ')
    INTO bad
    FROM pg_catalog.unnest(tenant_tables) AS c (oid)
    WHERE c.oid <> ALL (done);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'cannot order % by their foreign keys (a cycle)', bad;
    END IF;

    -- 5. The foreign keys dropped in 2, as they were; the triggers of 2b on again, on every shard.
    FOR fk IN SELECT * FROM pg_catalog.jsonb_to_recordset(dropped) AS d (tbl TEXT, conname TEXT, def TEXT) LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.conname, fk.def);
    END LOOP;
    FOR fk IN
        SELECT * FROM pg_catalog.jsonb_to_recordset(COALESCE(triggers, '[]')) AS g (tbl TEXT, name TEXT, mode TEXT)
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE %s TRIGGER %I', fk.tbl,
                                  CASE fk.mode WHEN 'A' THEN 'ALWAYS' WHEN 'R' THEN 'REPLICA' ELSE '' END, fk.name);
    END LOOP;

    SELECT pg_catalog.string_agg(b.key, ', ')
    INTO rebuilt
    FROM pg_catalog.jsonb_each_text(views_before) AS b (key, value)
    WHERE pg_catalog.to_regclass(b.key) IS DISTINCT FROM b.value::OID::REGCLASS;
    IF rebuilt IS NOT NULL THEN
        RAISE EXCEPTION 'Citus re-created %, which would have lost grants, comments or indexes', rebuilt
            USING HINT = 'a table was made a Citus local table on the way: see docs/citus.md';
    END IF;
END
$$;
