-- Drop the extensions, in reverse order of creation.
-- pg_cron is dropped only where it was created here; in a shared cron database it serves others.
DO $$
BEGIN
    IF current_database() = current_setting('cron.database_name', true) THEN
        DROP EXTENSION IF EXISTS pg_cron;
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
