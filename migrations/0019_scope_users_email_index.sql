-- Lead the users' email index with tenant_id, so a guessed address of another tenant cannot be told
-- from an address nobody has.
--
-- Why: idx_users_email was the document's index on (email) alone. Under row-level security an
-- index scan on it finds another tenant's row first and the policy removes it after, and EXPLAIN
-- ANALYZE counts that row ("Rows Removed by Filter: 1" for another tenant's address, 0 for an address
-- nobody has): a tenant could confirm who is a user elsewhere (tests/test_attacks.py). The table
-- already has UNIQUE (tenant_id, email), which serves every tenant's lookup by email; that
-- constraint's index takes the document's name and the (email) index goes. A lookup by email across
-- tenants (the trusted side, as maplatform_maintenance) reads the table instead.
SET LOCAL ROLE maplatform_owner;

-- dbtool-lint: ignore squawk/require-concurrent-index-deletion because users is small: the lock is brief
DROP INDEX public.idx_users_email;
-- dbtool-lint: ignore squawk/renaming-object because no query names an index; the document's name stays on one
ALTER TABLE public.users RENAME CONSTRAINT users_tenant_id_email_key TO idx_users_email;
