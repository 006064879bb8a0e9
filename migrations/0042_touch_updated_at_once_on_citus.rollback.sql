-- Undoes 0042_touch_updated_at_once_on_citus: on a Citus coordinator app.touch_updated_at() sets
-- now() again, as 0003 made it (each copy of a reference table's row then gets its own); on plain
-- PostgreSQL nothing happens.
SET LOCAL ROLE maplatform_owner;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', TRUE);
    -- the body exactly as 0003 wrote it (the catalog compares it)
    CREATE OR REPLACE FUNCTION app.touch_updated_at()
    RETURNS TRIGGER
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $f$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$f$;
END
$$;
