-- On a Citus coordinator, give a row of a reference table one updated_at on every node.
--
-- Why: public.tenants is a reference table (0039): a copy on every node, and Citus fires its BEFORE
-- UPDATE trigger app.touch_updated_at() on each copy, in each node's own transaction, so now() gave
-- each copy its own updated_at (measured: .400735, .402677, .401236 for one row). Reads then depend
-- on the copy Citus picks, and a backup's fingerprints and pg_dump read different copies: the
-- restore's verification failed (docs/citus.md, "Backup and restore of a coordinator").
-- On Citus the trigger takes the distributed transaction's timestamp, which the coordinator assigns
-- and sends to every node of the transaction (get_current_transaction_id().transaction_stamp;
-- measured: the same on the three copies), and now() when the transaction has none (a write no other
-- node takes part in). On the distributed tables, whose row has one copy, it is the same moment to a
-- millisecond. On plain PostgreSQL nothing happens: the function keeps now().
SET LOCAL ROLE maplatform_owner;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;  -- plain PostgreSQL: one copy of each row, now() as before
    END IF;
    -- Citus sends the new body to the workers over one connection per node
    PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', TRUE);
    CREATE OR REPLACE FUNCTION app.touch_updated_at()
    RETURNS TRIGGER
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $f$
    BEGIN
        -- the coordinator's timestamp of this distributed transaction: one value on every copy
        NEW.updated_at := COALESCE(
            (SELECT t.transaction_stamp FROM pg_catalog.get_current_transaction_id() AS t
             WHERE t.transaction_number <> 0),
            now());
        RETURN NEW;
    END
    $f$;
END
$$;
