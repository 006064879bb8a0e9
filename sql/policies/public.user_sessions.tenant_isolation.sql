-- Tenant isolation on public.user_sessions: only the tenant of the verified token set by
-- set_tenant_context(token) is visible and writable; with no token, or one nobody verified, nothing
-- is (set_config() alone reaches no tenant). WITH CHECK stops writing a row for another tenant and
-- moving a row to another tenant. The tenant comes from app.verified_tenant(), which looks the token
-- up in a registry no tenant-facing role can read (docs/roles.md, docs/deviations.md).
-- Two forms, the same rows (the function is STABLE: one value per statement): the plain call, which
-- Citus accepts on a distributed table and PostgreSQL computes once per row wherever the comparison
-- is not an index condition; and, without Citus, the call in a sub-select, an InitPlan computed once
-- per statement, which Citus refuses (docs/citus.md, docs/benchmarks.md "The policies' two forms").
SET LOCAL ROLE maplatform_owner;

DROP POLICY IF EXISTS tenant_isolation ON public.user_sessions;
CREATE POLICY tenant_isolation ON public.user_sessions
AS PERMISSIVE
FOR ALL
TO PUBLIC
USING (tenant_id = app.verified_tenant())
WITH CHECK (tenant_id = app.verified_tenant());

-- dbtool-lint: ignore repeatable-object because it gives this policy its form on PostgreSQL without Citus
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        ALTER POLICY tenant_isolation ON public.user_sessions
        USING (tenant_id = (SELECT app.verified_tenant()))
        WITH CHECK (tenant_id = (SELECT app.verified_tenant()));
    END IF;
END
$$;
