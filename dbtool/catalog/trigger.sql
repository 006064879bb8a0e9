-- Triggers (not the internal ones that implement foreign keys): definition and whether enabled.
-- TimescaleDB's own (ts_insert_blocker, ts_cagg_invalidation_trigger) come with a hypertable or a
-- continuous aggregate, and are compared too.
SELECT n.nspname || '.' || c.relname || '.' || t.tgname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           -- A continuous aggregate's invalidation trigger names its hypertable by TimescaleDB's
           -- internal id, which a rollback and re-apply (or any hypertable created before) changes.
           'definition', regexp_replace(pg_get_triggerdef(t.oid),
                                        '(_timescaledb_functions\.continuous_agg_invalidation_trigger)\(''\d+''\)$',
                                        '\1(<hypertable id>)'),
           'enabled', CASE t.tgenabled WHEN 'O' THEN 'origin' WHEN 'D' THEN 'disabled'
                                       WHEN 'R' THEN 'replica' WHEN 'A' THEN 'always' END,
           'comment', obj_description(t.oid, 'pg_trigger'))) AS attrs
FROM pg_trigger AS t
JOIN pg_class AS c ON c.oid = t.tgrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal
  AND n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT c.oid = ANY (%(chunks)s)  -- TimescaleDB chunks, wherever their schema
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
