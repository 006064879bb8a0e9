-- Undoes 0038_partition_timeline_for_citus: statements run top to bottom, newest change first. On a
-- Citus coordinator only (elsewhere 0038 changed nothing): the jobs and functions of the partitions
-- go, the retention functions get their drop_chunks bodies back (0018's and 0023's), and
-- audit.events and timeline.activity_timeline become hypertables again, as 0023 and 0009/0018 made
-- them (chunk interval, chunk schema, no index on time alone), their rows copied back, by the same
-- swap as 0038's: the table's indexes, foreign keys, triggers, row-level security, policies, grants,
-- owner and comments, and the views and materialized views on it, each as it was. A table still
-- distributed (0039 not rolled back) is refused.
-- dbtool-lint: ignore owner-role because the tables belong to two owners, one of whom only a superuser can act as
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    DELETE FROM ops.cron_jobs WHERE jobname IN ('audit_events_partitions', 'activity_timeline_partitions');
    DROP FUNCTION audit.create_event_partitions();
    DROP FUNCTION ops.create_activity_timeline_partitions();

CREATE OR REPLACE FUNCTION audit.drop_expired_events()
RETURNS INTEGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    dropped INTEGER;
BEGIN
    SELECT count(*) INTO dropped FROM public.drop_chunks('audit.events', older_than => INTERVAL '7 years');
    RETURN dropped;
END
$fn$;

    SET LOCAL ROLE maplatform_owner;
CREATE OR REPLACE FUNCTION ops.drop_expired_activity_timeline()
RETURNS INTEGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    dropped INTEGER;
BEGIN
    -- Runs as the hypertable's owner: drop_chunks needs ownership.
    SELECT count(*) INTO dropped
    FROM public.drop_chunks('timeline.activity_timeline', older_than => INTERVAL '1 year');
    RETURN dropped;
END
$fn$;
    COMMENT ON FUNCTION ops.drop_expired_activity_timeline() IS
        'Retention of activity_timeline on the Apache edition: drops chunks older than a year; returns how many';
    RESET ROLE;
END
$$;

DO $$
DECLARE
    tables CONSTANT TEXT[] := ARRAY['audit.events', 'timeline.activity_timeline'];
    -- As 0023 and 0009 (TimescaleDB's default) made them, and 0018 (no index on time alone).
    chunk_interval CONSTANT INTERVAL[] := ARRAY[INTERVAL '1 month', INTERVAL '7 days'];
    chunk_schema CONSTANT NAME[] := ARRAY['audit', 'timeline_chunks'];
    old_path TEXT := pg_catalog.current_setting('search_path');
    i INTEGER;
    tbl REGCLASS;
    sch NAME;
    rel NAME;
    owner NAME;
    staged TEXT;
    stmt TEXT;
    early TEXT[];          -- indexes and foreign keys of the new table, made before the swap
    stmts TEXT[];          -- the rest, after
    views TEXT[];          -- CREATE OR REPLACE VIEW of each view reading the table
    rebuilt TEXT[];        -- materialized views on the table and the views on those: re-created in order
    drops TEXT[];          -- and dropped before, in the reverse order
    dep RECORD;
    p RECORD;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;  -- plain PostgreSQL: 0038 changed nothing
    END IF;
    -- Every name below is qualified, and so is what pg_get_*def returns under this path.
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', TRUE);
    FOR i IN 1 .. pg_catalog.array_length(tables, 1) LOOP
        tbl := tables[i]::REGCLASS;
        SELECT n.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner) INTO sch, rel, owner
        FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.oid = tbl;
        IF (SELECT c.relkind FROM pg_catalog.pg_class AS c WHERE c.oid = tbl) <> 'p' THEN
            RAISE EXCEPTION '%.% is not a partitioned table: nothing here knows what it is', sch, rel;
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS dp WHERE dp.logicalrelid = tbl) THEN
            RAISE EXCEPTION '%.% is a Citus table: undistribute it first (the rollback of 0039)', sch, rel;
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_constraint AS co WHERE co.conrelid = tbl AND co.contype NOT IN ('c', 'f'))
           OR EXISTS (SELECT FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = tbl AND a.attacl IS NOT NULL) THEN
            RAISE EXCEPTION '%.% has a primary key, unique, exclusion or constraint trigger, or column privileges: 0038 made none', sch, rel;
        END IF;
        EXECUTE pg_catalog.format('LOCK TABLE %I.%I IN SHARE MODE', sch, rel);
        staged := rel || '_hypertable';

        -- What the hypertable gets, read before anything changes: its indexes (under a name of their own
        -- until the swap) and foreign keys before the swap, while the hypertable is still read; the rest
        -- after, in this order.
        SELECT coalesce(pg_catalog.array_agg(s ORDER BY k, o), '{}') INTO early FROM (
            SELECT 1 AS k, x.indexrelid::BIGINT AS o,
                   pg_catalog.format('CREATE %sINDEX %I ON %I.%I%s', CASE WHEN x.indisunique THEN 'UNIQUE ' ELSE '' END,
                                     pg_catalog.left(i.relname, 56) || '_staged', sch, staged,
                                     pg_catalog.substr(d.def, pg_catalog.strpos(d.def, ' USING '))) AS s
            FROM pg_catalog.pg_index AS x JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid,
            LATERAL (SELECT pg_catalog.pg_get_indexdef(x.indexrelid) AS def) AS d
            WHERE x.indrelid = tbl
            UNION ALL
            SELECT 2, co.oid::BIGINT, pg_catalog.format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', sch, staged, co.conname,
                                                          pg_catalog.pg_get_constraintdef(co.oid))
            FROM pg_catalog.pg_constraint AS co WHERE co.conrelid = tbl AND co.contype = 'f'
        ) AS todo;
        SELECT coalesce(pg_catalog.array_agg(s ORDER BY k, o), '{}') INTO stmts FROM (
            SELECT 1 AS k, x.indexrelid::BIGINT AS o,
                   pg_catalog.format('ALTER INDEX %I.%I RENAME TO %I', sch, pg_catalog.left(i.relname, 56) || '_staged',
                                     i.relname) AS s
            FROM pg_catalog.pg_index AS x JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
            WHERE x.indrelid = tbl
            UNION ALL
            SELECT 2, x.indexrelid::BIGINT, pg_catalog.format('COMMENT ON INDEX %s IS %L', x.indexrelid::REGCLASS, d.description)
            FROM pg_catalog.pg_index AS x
            JOIN pg_catalog.pg_description AS d ON d.objoid = x.indexrelid AND d.classoid = 'pg_catalog.pg_class'::REGCLASS
            WHERE x.indrelid = tbl
            UNION ALL
            SELECT 4, co.oid::BIGINT, pg_catalog.format('COMMENT ON CONSTRAINT %I ON %I.%I IS %L', co.conname, sch, rel,
                                                          d.description)
            FROM pg_catalog.pg_constraint AS co
            JOIN pg_catalog.pg_description AS d ON d.objoid = co.oid AND d.classoid = 'pg_catalog.pg_constraint'::REGCLASS
            WHERE co.conrelid = tbl AND co.contype = 'f'
            UNION ALL
            SELECT 5, t.oid::BIGINT, pg_catalog.pg_get_triggerdef(t.oid)
            FROM pg_catalog.pg_trigger AS t JOIN pg_catalog.pg_proc AS f ON f.oid = t.tgfoid
            WHERE t.tgrelid = tbl AND NOT t.tgisinternal
              AND f.pronamespace::REGNAMESPACE::TEXT !~ '^_timescaledb'  -- ts_insert_blocker
            UNION ALL
            SELECT 6, t.oid::BIGINT, pg_catalog.format('COMMENT ON TRIGGER %I ON %I.%I IS %L', t.tgname, sch, rel, d.description)
            FROM pg_catalog.pg_trigger AS t
            JOIN pg_catalog.pg_description AS d ON d.objoid = t.oid AND d.classoid = 'pg_catalog.pg_trigger'::REGCLASS
            WHERE t.tgrelid = tbl AND NOT t.tgisinternal
            UNION ALL
            SELECT 7, 0, pg_catalog.format('ALTER TABLE %I.%I %s ROW LEVEL SECURITY, %s ROW LEVEL SECURITY', sch, rel,
                                           CASE WHEN c.relrowsecurity THEN 'ENABLE' ELSE 'DISABLE' END,
                                           CASE WHEN c.relforcerowsecurity THEN 'FORCE' ELSE 'NO FORCE' END)
            FROM pg_catalog.pg_class AS c WHERE c.oid = tbl
            UNION ALL
            SELECT 8, po.oid::BIGINT, pg_catalog.format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s%s%s', po.polname, sch, rel,
                CASE WHEN po.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                CASE po.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE'
                               ELSE 'ALL' END,
                (SELECT pg_catalog.string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) END, ', ')
                 FROM pg_catalog.unnest(po.polroles) AS r),
                ' USING (' || pg_catalog.pg_get_expr(po.polqual, po.polrelid) || ')',
                ' WITH CHECK (' || pg_catalog.pg_get_expr(po.polwithcheck, po.polrelid) || ')')
            FROM pg_catalog.pg_policy AS po WHERE po.polrelid = tbl
            UNION ALL
            SELECT 9, 0, pg_catalog.format('ALTER TABLE %I.%I OWNER TO %I', sch, rel, owner)
            UNION ALL  -- after the owner: the owner grants them, as before
            SELECT 10, 0, pg_catalog.format('GRANT %s ON %I.%I TO %s%s', a.privilege_type, sch, rel,
                                            CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
                                            CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
            FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
            WHERE c.oid = tbl AND a.grantee <> c.relowner
            UNION ALL
            SELECT 11, 0, pg_catalog.format('COMMENT ON TABLE %I.%I IS %L', sch, rel, pg_catalog.obj_description(tbl, 'pg_class'))
            WHERE pg_catalog.obj_description(tbl, 'pg_class') IS NOT NULL
        ) AS todo;

        -- Views reading the table: pointed at the new one. Materialized views (and the views on them):
        -- re-created as they were.
        views := '{}';
        rebuilt := '{}';
        drops := '{}';
        FOR dep IN
            SELECT DISTINCT c.oid, c.relkind, c.oid::REGCLASS::TEXT AS name
            FROM pg_catalog.pg_depend AS d
            JOIN pg_catalog.pg_rewrite AS r ON d.classid = 'pg_catalog.pg_rewrite'::REGCLASS AND r.oid = d.objid
            JOIN pg_catalog.pg_class AS c ON c.oid = r.ev_class
            WHERE d.refclassid = 'pg_catalog.pg_class'::REGCLASS AND d.refobjid = tbl AND c.oid <> tbl
            ORDER BY c.relkind DESC, 3
        LOOP
            IF dep.relkind = 'v' THEN
                views := views || pg_catalog.format('CREATE OR REPLACE VIEW %s%s AS %s', dep.name,
                    (SELECT ' WITH (' || pg_catalog.array_to_string(c.reloptions, ', ') || ')'
                     FROM pg_catalog.pg_class AS c WHERE c.oid = dep.oid),
                    pg_catalog.rtrim(pg_catalog.pg_get_viewdef(dep.oid), ';'));
                CONTINUE;
            END IF;
            -- A materialized view, then each view on it (one level: a deeper one makes DROP fail, and
            -- with it this migration).
            FOR p IN
                SELECT dep.oid, dep.relkind
                UNION ALL
                SELECT * FROM (
                    SELECT DISTINCT c.oid, c.relkind
                    FROM pg_catalog.pg_depend AS d
                    JOIN pg_catalog.pg_rewrite AS r ON d.classid = 'pg_catalog.pg_rewrite'::REGCLASS AND r.oid = d.objid
                    JOIN pg_catalog.pg_class AS c ON c.oid = r.ev_class
                    WHERE d.refclassid = 'pg_catalog.pg_class'::REGCLASS AND d.refobjid = dep.oid AND c.oid <> dep.oid
                    ORDER BY c.oid
                ) AS onto
            LOOP
                drops := pg_catalog.format('DROP %s %s', CASE p.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                                           p.oid::REGCLASS) || drops;
                rebuilt := rebuilt || (pg_catalog.format('CREATE %s %s%s AS %s', CASE p.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                    p.oid::REGCLASS,
                    (SELECT ' WITH (' || pg_catalog.array_to_string(c.reloptions, ', ') || ')'
                     FROM pg_catalog.pg_class AS c WHERE c.oid = p.oid),
                    pg_catalog.rtrim(pg_catalog.pg_get_viewdef(p.oid), ';'))
                    || (SELECT CASE WHEN NOT c.relispopulated THEN ' WITH NO DATA' ELSE '' END
                        FROM pg_catalog.pg_class AS c WHERE c.oid = p.oid));
                rebuilt := rebuilt || coalesce((
                    SELECT pg_catalog.array_agg(s ORDER BY k, o) FROM (
                        SELECT 1 AS k, x.indexrelid::BIGINT AS o, pg_catalog.pg_get_indexdef(x.indexrelid) AS s
                        FROM pg_catalog.pg_index AS x WHERE x.indrelid = p.oid
                        UNION ALL
                        SELECT 2, x.indexrelid::BIGINT, pg_catalog.format('COMMENT ON INDEX %s IS %L', x.indexrelid::REGCLASS, d.description)
                        FROM pg_catalog.pg_index AS x
                        JOIN pg_catalog.pg_description AS d ON d.objoid = x.indexrelid AND d.classoid = 'pg_catalog.pg_class'::REGCLASS
                        WHERE x.indrelid = p.oid
                        UNION ALL
                        SELECT 3, 0, pg_catalog.format('ALTER %s %s OWNER TO %I',
                                                       CASE p.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                                                       p.oid::REGCLASS, pg_catalog.pg_get_userbyid(c.relowner))
                        FROM pg_catalog.pg_class AS c WHERE c.oid = p.oid
                        UNION ALL  -- an explicit ACL without the owner's own entry: REVOKE ALL ... FROM <owner> first
                        SELECT 4, 0, pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', p.oid::REGCLASS)
                        FROM pg_catalog.pg_class AS c WHERE c.oid = p.oid AND c.relacl IS NOT NULL
                        UNION ALL
                        SELECT 5, 0, pg_catalog.format('GRANT %s ON %s TO %s%s', a.privilege_type, p.oid::REGCLASS,
                                                       CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END,
                                                       CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
                        FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS a
                        WHERE c.oid = p.oid AND a.grantee <> c.relowner
                        UNION ALL
                        SELECT 6, 0, pg_catalog.format('COMMENT ON %s %s IS %L',
                                                       CASE p.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                                                       p.oid::REGCLASS, pg_catalog.obj_description(p.oid, 'pg_class'))
                        WHERE pg_catalog.obj_description(p.oid, 'pg_class') IS NOT NULL
                        UNION ALL
                        SELECT 7, a.attnum, pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', p.oid::REGCLASS, a.attname,
                                                              pg_catalog.col_description(p.oid, a.attnum))
                        FROM pg_catalog.pg_attribute AS a
                        WHERE a.attrelid = p.oid AND a.attnum > 0 AND pg_catalog.col_description(p.oid, a.attnum) IS NOT NULL
                    ) AS its), '{}');
            END LOOP;
        END LOOP;

        -- The hypertable, under a name of its own until the swap; owned by the table's owner before its
        -- first chunk (chunks take the hypertable's owner when made).
        EXECUTE pg_catalog.format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING ALL EXCLUDING INDEXES)', sch, staged, sch, rel);
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I OWNER TO %I', sch, staged, owner);
        PERFORM public.create_hypertable(pg_catalog.format('%I.%I', sch, staged)::REGCLASS, 'time',
                                         chunk_time_interval => chunk_interval[i],
                                         associated_schema_name => chunk_schema[i], create_default_indexes => FALSE);
        EXECUTE pg_catalog.format('INSERT INTO %I.%I SELECT * FROM %I.%I', sch, staged, sch, rel);
        FOREACH stmt IN ARRAY early LOOP
            EXECUTE stmt;
        END LOOP;

        -- The swap.
        FOREACH stmt IN ARRAY drops LOOP
            EXECUTE stmt;
        END LOOP;
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I RENAME TO %I', sch, rel, rel || '_partitioned');
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I RENAME TO %I', sch, staged, rel);
        FOREACH stmt IN ARRAY views LOOP
            EXECUTE stmt;
        END LOOP;
        EXECUTE pg_catalog.format('DROP TABLE %I.%I', sch, rel || '_partitioned');  -- and its partitions
        FOREACH stmt IN ARRAY stmts || rebuilt LOOP
            EXECUTE stmt;
        END LOOP;
    END LOOP;
    PERFORM pg_catalog.set_config('search_path', old_path, TRUE);
END
$$;
