-- Indexes of tables and materialized views: full definition and validity. An index left INVALID
-- by a failed CREATE INDEX CONCURRENTLY shows up with valid: false (indisready false as well
-- when the build failed early), so it is drift.
SELECT n.nspname || '.' || i.relname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'table', n2.nspname || '.' || c.relname,
           'definition', pg_get_indexdef(x.indexrelid),
           'valid', x.indisvalid AND x.indisready,
           'clustered', CASE WHEN x.indisclustered THEN true END,
           'comment', obj_description(i.oid, 'pg_class'))) AS attrs
FROM pg_index AS x
JOIN pg_class AS i ON i.oid = x.indexrelid
JOIN pg_namespace AS n ON n.oid = i.relnamespace
JOIN pg_class AS c ON c.oid = x.indrelid
JOIN pg_namespace AS n2 ON n2.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'f')
  AND n2.nspname <> ALL (%(skip_schemas)s) AND n2.nspname !~ %(skip_schema_re)s
  AND NOT c.oid = ANY (%(chunks)s)  -- TimescaleDB chunks, wherever their schema
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
