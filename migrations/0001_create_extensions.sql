-- Create the extensions the schema is built on.
--
-- Why: every later migration uses them: uuid-ossp and pgcrypto for keys and hashing, pg_trgm and
-- btree_gin for search indexes, pg_stat_statements for slow_queries, timescaledb for
-- activity_timeline, vector for document embeddings. The architecture document calls pgvector's
-- extension "pgvector"; its name is "vector" (docs/deviations.md).
-- pg_cron can only be created in the database named by cron.database_name; elsewhere dbtool
-- creates it in that database when it schedules the jobs (docs/cron.md).
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS timescaledb WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;
DO $$
BEGIN
    IF current_database() = current_setting('cron.database_name', true) THEN
        CREATE EXTENSION IF NOT EXISTS pg_cron;
    ELSE
        RAISE NOTICE 'pg_cron lives in database %, not here; dbtool schedules jobs there',
            coalesce(current_setting('cron.database_name', true), '(pg_cron not loaded)');
    END IF;
END
$$;
