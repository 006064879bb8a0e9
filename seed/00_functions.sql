-- Helpers for this seed session only: pg_temp, so nothing is added to the schema and they vanish
-- with the connection. Before this file runs, {seed}, {tenants}, {users_per_tenant} and {as_of}
-- are replaced by literals (dbtool/commands/seed.py).
--
-- Every value the seed writes is a pure function of (seed, field, row number), not a random()
-- stream: the data does not depend on row order, plan or parallelism, and one table's statement can
-- recompute another table's value without reading it back (a deal's owner is the same expression in
-- deals, deal_team_members and notifications). All are LANGUAGE sql and IMMUTABLE, so the planner
-- inlines them and folds the hash of the constant parts once per statement.
--
-- Numbering: row n of a per-tenant table belongs to tenant mod(n, tenants) and is that tenant's
-- row number n / tenants (tenants are interleaved, as after years of use); row n of a per-deal
-- table with r rows per deal belongs to deal n / r.

-- Deterministic id: a 20-hex-digit prefix per (seed, kind) followed by the row number. Distinct per
-- seed and kind, and in insertion order (like UUIDv7), so primary-key inserts append.
CREATE FUNCTION pg_temp.sid(kind TEXT, n BIGINT)
RETURNS UUID
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$ SELECT (left(md5({seed} || ':' || kind), 20) || lpad(to_hex(n), 12, '0'))::UUID $$;

-- Uniform in (0, 1): 53 bits of a seeded 64-bit hash of the row number.
CREATE FUNCTION pg_temp.u(field TEXT, n BIGINT)
RETURNS DOUBLE PRECISION
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT ((hashint8extended(n, hashtextextended({seed} || ':' || field, 0)) & 9007199254740991)::DOUBLE PRECISION
            + 0.5) / 9007199254740992.0
$$;

-- Standard normal (Box-Muller), for log-normal amounts.
CREATE FUNCTION pg_temp.z(field TEXT, n BIGINT)
RETURNS DOUBLE PRECISION
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$ SELECT sqrt(-2 * ln(pg_temp.u(field || '.a', n))) * cos(2 * pi() * pg_temp.u(field || '.b', n)) $$;

-- One element of a word list.
CREATE FUNCTION pg_temp.pick(words TEXT[], field TEXT, n BIGINT)
RETURNS TEXT
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$ SELECT words[1 + floor(pg_temp.u(field, n) * cardinality(words))::INTEGER] $$;

-- The moment the data set is "now": every date is relative to it, so a seed is repeatable.
CREATE FUNCTION pg_temp.as_of()
RETURNS TIMESTAMPTZ
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$ SELECT {as_of}::TIMESTAMPTZ $$;

-- A moment between `since` and as_of, at fraction x of the way.
CREATE FUNCTION pg_temp.between_now(since TIMESTAMPTZ, x DOUBLE PRECISION)
RETURNS TIMESTAMPTZ
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$ SELECT since + (pg_temp.as_of() - since) * x $$;

-- The user number of tenant t's user at fraction x of its users.
CREATE FUNCTION pg_temp.tenant_user(t BIGINT, x DOUBLE PRECISION)
RETURNS BIGINT
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$ SELECT floor(x * {users_per_tenant})::BIGINT * {tenants} + t $$;

-- Deal d's owner (j = 0) and team (j = 1, 2): three distinct users of the deal's tenant.
CREATE FUNCTION pg_temp.deal_user(d BIGINT, j INTEGER)
RETURNS BIGINT
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT mod(floor(pg_temp.u('deals.owner', d) * {users_per_tenant})::BIGINT + j, {users_per_tenant}) * {tenants}
           + mod(d, {tenants})
$$;

-- When deal d was created: 20 to 620 days before as_of.
CREATE FUNCTION pg_temp.deal_created(d BIGINT)
RETURNS TIMESTAMPTZ
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$ SELECT pg_temp.as_of() - INTERVAL '1 minute' * floor((20 + pg_temp.u('deals.created', d) * 600) * 1440) $$;

-- Deal d's value: log-normal, median 8 million, rounded to thousands.
CREATE FUNCTION pg_temp.deal_value(d BIGINT)
RETURNS NUMERIC
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$ SELECT least(round(exp(ln(8000000) + 1.3 * pg_temp.z('deals.value', d))::NUMERIC, -3), 900000000000) $$;

-- Deal d's sector (deals.description and custom_fields, documents' summaries).
CREATE FUNCTION pg_temp.deal_sector(d BIGINT)
RETURNS TEXT
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT pg_temp.pick(ARRAY['software', 'healthcare', 'logistics', 'fintech', 'manufacturing', 'consumer goods',
                              'renewable energy', 'business services', 'media', 'education'], 'deals.sector', d)
$$;

-- The deal of row n of a table that has a row for every step-th deal of each tenant, from the
-- tenant's deal number `first`: tenant mod(n, tenants), its deal number first + (n / tenants) * step.
-- (Taking every step-th deal number overall would give all rows to the tenants whose number shares
-- a factor with step.)
CREATE FUNCTION pg_temp.nth_deal(n BIGINT, step INTEGER, first INTEGER)
RETURNS BIGINT
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$ SELECT (first + (n / {tenants}) * step) * {tenants} + mod(n, {tenants}) $$;
