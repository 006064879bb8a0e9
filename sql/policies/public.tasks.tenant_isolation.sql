-- Tenant isolation on public.tasks: only the tenant of the verified token set by
-- set_tenant_context(token) is visible and writable; with no token, or one nobody verified, nothing
-- is (set_config() alone reaches no tenant). WITH CHECK stops writing a row for another tenant and
-- moving a row to another tenant. The tenant comes from app.verified_tenant() in a sub-select (an
-- InitPlan, once per statement, so the comparison is an index condition); it looks the token up in
-- a registry no tenant-facing role can read (docs/roles.md, docs/deviations.md).
SET LOCAL ROLE maplatform_owner;

DROP POLICY IF EXISTS tenant_isolation ON public.tasks;
CREATE POLICY tenant_isolation ON public.tasks
AS PERMISSIVE
FOR ALL
TO PUBLIC
USING (tenant_id = (SELECT app.verified_tenant()))
WITH CHECK (tenant_id = (SELECT app.verified_tenant()));
