-- Table constraints: primary key, foreign key, unique, check, exclusion, with their definition
-- (which spells out NOT VALID, DEFERRABLE, ON DELETE ...) and whether they have been validated.
-- Domain constraints are part of kind type; constraint triggers are part of kind trigger.
SELECT n.nspname || '.' || c.relname || '.' || k.conname AS name,
       jsonb_strip_nulls(jsonb_build_object(
           'type', CASE k.contype WHEN 'p' THEN 'primary key' WHEN 'f' THEN 'foreign key' WHEN 'u' THEN 'unique'
                                  WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion' ELSE k.contype::text END,
           'definition', pg_get_constraintdef(k.oid),
           'validated', k.convalidated,
           'comment', obj_description(k.oid, 'pg_constraint'))) AS attrs
FROM pg_constraint AS k
JOIN pg_class AS c ON c.oid = k.conrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE k.contype <> 't'
  AND n.nspname <> ALL (%(skip_schemas)s) AND n.nspname !~ %(skip_schema_re)s
  AND NOT c.oid = ANY (%(chunks)s)  -- TimescaleDB chunks, wherever their schema
  AND NOT EXISTS (SELECT FROM pg_depend AS d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
