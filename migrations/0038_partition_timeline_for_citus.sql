-- On a Citus coordinator only: timeline.activity_timeline and audit.events become plain tables
-- partitioned by month on time (Citus' create_time_partitions), their retention drop_old_time_partitions,
-- and a daily job keeps three months of partitions ahead. On plain PostgreSQL nothing happens: the
-- hypertables stay.
--
-- Why (issue 16, docs/citus.md, docs/deviations.md): Citus cannot distribute a TimescaleDB hypertable.
-- It accepts one, and its shards carry TimescaleDB's ts_insert_blocker, so every INSERT fails
-- (0A000 invalid INSERT on the root table of hypertable); a plain table PARTITION BY RANGE (time)
-- distributes, and Citus' create_time_partitions / drop_old_time_partitions keep it by time, as the
-- chunks did. The tables are not distributed here (0039 distributes every tenant table, these two
-- included): create_time_partitions and drop_old_time_partitions work on a local partitioned table
-- (measured), so nothing here needs Citus metadata.
-- Per table, in one transaction:
--  * the new table is built beside the hypertable (LIKE: columns, defaults, NOT NULL and CHECK
--    constraints, storage, statistics, column comments), its partitions made by create_time_partitions,
--    one per month, to three months past now (or the newest row): for the timeline from a year back,
--    its retention, since the application writes events with a time of its own; for the trail from
--    this month, since its entries take the clock's time (a partition per month of its 7 years, empty,
--    made distributing it take 18 s instead of 1.5 s: measured); from the oldest row's month if older.
--    UTC months, like the jobs' (the functions below say TimeZone UTC: create_time_partitions aligns
--    months in the session's time zone, and in America/New_York refused to add to UTC months, measured);
--    named <table>_p<yyyy>_<mm> as Citus names them; owned by the table's owner, who drops them;
--  * the rows are copied, and the new table's indexes (under names of their own) and foreign keys
--    built, under a SHARE lock on the hypertable (writes wait, reads go on); then, under ACCESS
--    EXCLUSIVE: the materialized views on it (daily_activity_summary on the Apache edition) and the
--    views on those are dropped, the hypertable renamed and the new table given its name, the views
--    on it pointed at the new table (CREATE OR REPLACE: same oid, grants, comments), the hypertable
--    dropped, then the indexes renamed, and the triggers (not TimescaleDB's), row-level security,
--    policies, owner, grants and comments made as the hypertable had them, and the materialized views
--    and the views on them re-created as they were (definition, indexes, owner, grants, comments).
--    All of it is read from the catalog before anything changes. The foreign keys are copied as they
--    are: NO ACTION keys once 0031 replaced the SET NULL ones (Citus refuses SET NULL on a distributed
--    table), the SET NULL ones before. The trail goes last: every token registration writes to it,
--    and the timeline stays locked until the transaction commits;
--  * the functions and cron jobs that name the tables by name (public.latest_activity, the record_*
--    writers, the audit triggers, the summary's refresh) are unchanged.
-- TimescaleDB's community edition (policies, compression, a continuous aggregate on the timeline) is
-- refused with the reason: no Citus build here has it, and a continuous aggregate cannot stay on a
-- plain table.
-- Retention, declared once: on Citus the Citus branch below replaces the bodies of
-- ops.drop_expired_activity_timeline() (a year) and audit.drop_expired_events() (7 years), which the
-- existing jobs activity_timeline_retention and audit_events_retention call: drop_old_time_partitions
-- instead of drop_chunks, whole months as whole chunks went. ops.create_activity_timeline_partitions()
-- and audit.create_event_partitions() (jobs activity_timeline_partitions, audit_events_partitions,
-- daily) keep three months ahead: a row whose month has no partition is refused (23514), where a
-- hypertable made a chunk.
-- The audit trail's objects are built as the migrating superuser and handed to maplatform_audit_owner,
-- as 0023 does (nobody logs in as it, on any node).
-- dbtool-lint: ignore owner-role because the tables belong to two owners, one of whom only a superuser can act as
DO $$
DECLARE
    tables CONSTANT TEXT[] := ARRAY['timeline.activity_timeline', 'audit.events'];
    -- How far back the first partitions go (the oldest row's month, if older): the timeline's year of
    -- retention, since the application writes events with a time of its own; the trail from this month,
    -- since its entries take the clock's time (only the owner's functions write it).
    back CONSTANT INTERVAL[] := ARRAY[INTERVAL '1 year', INTERVAL '0'];
    ahead CONSTANT INTERVAL := INTERVAL '3 months';
    old_path TEXT := pg_catalog.current_setting('search_path');
    old_zone TEXT := pg_catalog.current_setting('TimeZone');
    i INTEGER;
    tbl REGCLASS;
    sch NAME;
    rel NAME;
    owner NAME;
    staged TEXT;
    first_time TIMESTAMPTZ;
    last_time TIMESTAMPTZ;
    stmt TEXT;
    early TEXT[];          -- indexes and foreign keys of the new table, made before the swap
    stmts TEXT[];          -- the rest, after
    parts TEXT[];          -- each partition's name and owner
    views TEXT[];          -- CREATE OR REPLACE VIEW of each view reading the table
    rebuilt TEXT[];        -- materialized views on the table and the views on those: re-created in order
    drops TEXT[];          -- and dropped before, in the reverse order
    dep RECORD;
    p RECORD;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;  -- plain PostgreSQL: the hypertables stay
    END IF;
    -- Every name below is qualified, and so is what pg_get_*def returns under this path.
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', TRUE);
    PERFORM pg_catalog.set_config('TimeZone', 'UTC', TRUE);
    FOR i IN 1 .. pg_catalog.array_length(tables, 1) LOOP
        tbl := tables[i]::REGCLASS;
        SELECT n.nspname, c.relname, pg_catalog.pg_get_userbyid(c.relowner) INTO sch, rel, owner
        FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE c.oid = tbl;
        IF NOT EXISTS (SELECT FROM _timescaledb_catalog.hypertable AS h WHERE h.schema_name = sch AND h.table_name = rel) THEN
            RAISE EXCEPTION '%.% is not a hypertable: nothing here knows what it is', sch, rel;
        END IF;
        IF EXISTS (SELECT FROM timescaledb_information.jobs AS j WHERE j.hypertable_schema = sch AND j.hypertable_name = rel)
           OR EXISTS (SELECT FROM timescaledb_information.continuous_aggregates AS ca
                      WHERE ca.hypertable_schema = sch AND ca.hypertable_name = rel)
           OR EXISTS (SELECT FROM timescaledb_information.hypertables AS h
                      WHERE h.hypertable_schema = sch AND h.hypertable_name = rel AND h.compression_enabled) THEN
            RAISE EXCEPTION '%.% has TimescaleDB policies, compression or a continuous aggregate (the community edition), which a partitioned table cannot keep', sch, rel
                USING HINT = 'TimescaleDB''s Apache edition on a Citus coordinator: docs/citus.md';
        END IF;
        IF EXISTS (SELECT FROM pg_catalog.pg_constraint AS co WHERE co.conrelid = tbl AND co.contype NOT IN ('c', 'f'))
           OR EXISTS (SELECT FROM pg_catalog.pg_attribute AS a WHERE a.attrelid = tbl AND a.attacl IS NOT NULL) THEN
            RAISE EXCEPTION '%.% has a primary key, unique, exclusion or constraint trigger, or column privileges: 0038 copies none', sch, rel;
        END IF;
        EXECUTE pg_catalog.format('LOCK TABLE %I.%I IN SHARE MODE', sch, rel);
        staged := rel || '_partitioned';

        -- What the new table gets, read before anything changes: its indexes (under a name of their own
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

        -- The new table and its partitions, under a name of its own until the swap.
        EXECUTE pg_catalog.format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING ALL EXCLUDING INDEXES) PARTITION BY RANGE (time)',
                                  sch, staged, sch, rel);
        EXECUTE pg_catalog.format('SELECT pg_catalog.min(time), pg_catalog.max(time) FROM %I.%I', sch, rel)
        INTO first_time, last_time;
        PERFORM pg_catalog.create_time_partitions(pg_catalog.format('%I.%I', sch, staged)::REGCLASS, INTERVAL '1 month',
                                                  greatest(now(), last_time) + ahead,
                                                  least(now() - back[i], first_time));
        -- Named after the table (<table>_p<yyyy>_<mm>), as the jobs will name the next ones; the owner's,
        -- who drops them.
        SELECT pg_catalog.array_agg(todo.s ORDER BY todo.part, todo.k) INTO parts
        FROM (SELECT c.relname AS part, rel || pg_catalog.substr(c.relname, pg_catalog.length(staged) + 1) AS named
              FROM pg_catalog.time_partitions AS tp JOIN pg_catalog.pg_class AS c ON c.oid = tp.partition
              WHERE tp.parent_table = pg_catalog.format('%I.%I', sch, staged)::REGCLASS) AS made,
        LATERAL (VALUES (1, made.part, pg_catalog.format('ALTER TABLE %I.%I RENAME TO %I', sch, made.part, made.named)),
                        (2, made.part, pg_catalog.format('ALTER TABLE %I.%I OWNER TO %I', sch, made.named, owner)))
            AS todo (k, part, s);
        FOREACH stmt IN ARRAY parts LOOP
            EXECUTE stmt;
        END LOOP;
        EXECUTE pg_catalog.format('INSERT INTO %I.%I SELECT * FROM %I.%I', sch, staged, sch, rel);
        FOREACH stmt IN ARRAY early LOOP
            EXECUTE stmt;
        END LOOP;

        -- The swap.
        FOREACH stmt IN ARRAY drops LOOP
            EXECUTE stmt;
        END LOOP;
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I RENAME TO %I', sch, rel, rel || '_hypertable');
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I RENAME TO %I', sch, staged, rel);
        FOREACH stmt IN ARRAY views LOOP
            EXECUTE stmt;
        END LOOP;
        EXECUTE pg_catalog.format('DROP TABLE %I.%I', sch, rel || '_hypertable');
        FOREACH stmt IN ARRAY stmts || rebuilt LOOP
            EXECUTE stmt;
        END LOOP;
    END LOOP;
    PERFORM pg_catalog.set_config('search_path', old_path, TRUE);
    PERFORM pg_catalog.set_config('TimeZone', old_zone, TRUE);
END
$$;

-- Retention and partitions ahead, on a Citus coordinator (see the header). The timeline's functions
-- belong to its owner, as the hypertable's did; the audit trail's to maplatform_audit_owner, callable
-- by the owner role (pg_cron's jobs run as it) and nobody else. (The functions start at the margin:
-- their bodies are stored as written.)
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    SET LOCAL ROLE maplatform_owner;

CREATE OR REPLACE FUNCTION ops.drop_expired_activity_timeline()
RETURNS INTEGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    had INTEGER := (SELECT count(*) FROM pg_catalog.time_partitions AS tp
                    WHERE tp.parent_table = 'timeline.activity_timeline'::REGCLASS);
BEGIN
    -- On a Citus coordinator (0038) the timeline is partitioned by month: the months older than a
    -- year go, as the owner (the partitions are its own).
    CALL pg_catalog.drop_old_time_partitions('timeline.activity_timeline', now() - INTERVAL '1 year');
    RETURN had - (SELECT count(*) FROM pg_catalog.time_partitions AS tp
                  WHERE tp.parent_table = 'timeline.activity_timeline'::REGCLASS);
END
$fn$;
    COMMENT ON FUNCTION ops.drop_expired_activity_timeline() IS
        'Retention of activity_timeline on a Citus coordinator: drops the monthly partitions older than a year; '
        'returns how many';

CREATE FUNCTION ops.create_activity_timeline_partitions()
RETURNS BOOLEAN
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
BEGIN
    -- UTC months, as 0038 made the first ones (create_time_partitions aligns months in the session's zone).
    RETURN pg_catalog.create_time_partitions('timeline.activity_timeline', INTERVAL '1 month',
                                             now() + INTERVAL '3 months');
END
$fn$;
    COMMENT ON FUNCTION ops.create_activity_timeline_partitions() IS
        'Creates the monthly partitions of activity_timeline up to three months ahead on a Citus coordinator; '
        'returns whether it made any';
    INSERT INTO ops.cron_jobs (jobname, schedule, command)
    VALUES ('activity_timeline_partitions', '15 1 * * *', 'SELECT ops.create_activity_timeline_partitions()');
    RESET ROLE;

CREATE OR REPLACE FUNCTION audit.drop_expired_events()
RETURNS INTEGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    had INTEGER := (SELECT count(*) FROM pg_catalog.time_partitions AS tp
                    WHERE tp.parent_table = 'audit.events'::REGCLASS);
BEGIN
    -- On a Citus coordinator (0038) the trail is partitioned by month: the months older than 7 years go.
    CALL pg_catalog.drop_old_time_partitions('audit.events', now() - INTERVAL '7 years');
    RETURN had - (SELECT count(*) FROM pg_catalog.time_partitions AS tp
                  WHERE tp.parent_table = 'audit.events'::REGCLASS);
END
$fn$;

CREATE FUNCTION audit.create_event_partitions()
RETURNS BOOLEAN
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
BEGIN
    -- UTC months, as 0038 made the first ones (create_time_partitions aligns months in the session's zone).
    RETURN pg_catalog.create_time_partitions('audit.events', INTERVAL '1 month', now() + INTERVAL '3 months');
END
$fn$;
    COMMENT ON FUNCTION audit.create_event_partitions() IS
        'Creates the monthly partitions of audit.events up to three months ahead on a Citus coordinator; '
        'returns whether it made any';
    REVOKE ALL ON FUNCTION audit.create_event_partitions() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION audit.create_event_partitions() TO maplatform_owner;
    ALTER FUNCTION audit.create_event_partitions() OWNER TO maplatform_audit_owner;
    SET LOCAL ROLE maplatform_owner;
    INSERT INTO ops.cron_jobs (jobname, schedule, command)
    VALUES ('audit_events_partitions', '40 3 * * *', 'SELECT audit.create_event_partitions()');
    RESET ROLE;
END
$$;
