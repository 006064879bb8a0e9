-- Drop the extensions, in reverse order of creation.
-- pg_cron is dropped only where it was created here, and only while it holds no job of another
-- database: dropping the extension deletes every job of the cluster with it.
DO $$
DECLARE
    others BIGINT := 0;
BEGIN
    IF current_database() = current_setting('cron.database_name', true) THEN
        IF to_regclass('cron.job') IS NOT NULL THEN
            EXECUTE 'SELECT count(*) FROM cron.job WHERE database <> current_database()' INTO others;
        END IF;
        IF others = 0 THEN
            DROP EXTENSION IF EXISTS pg_cron;
        ELSE
            RAISE NOTICE 'pg_cron kept: it holds % job(s) of other databases', others;
        END IF;
    END IF;
END
$$;
DROP EXTENSION IF EXISTS vector;
DROP EXTENSION IF EXISTS timescaledb;
DROP EXTENSION IF EXISTS pg_stat_statements;
DROP EXTENSION IF EXISTS btree_gin;
DROP EXTENSION IF EXISTS pg_trgm;
DROP EXTENSION IF EXISTS pgcrypto;
DROP EXTENSION IF EXISTS "uuid-ossp";
