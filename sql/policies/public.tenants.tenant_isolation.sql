-- Tenant isolation on public.tenants: only the tenant set by set_tenant_context() is visible and
-- writable; with no tenant set nothing is (app.current_tenant_id() is NULL). WITH CHECK stops
-- writing a row for another tenant and moving a row to another tenant. The function is called
-- in a sub-select so it runs once per statement and the tenant_id indexes stay usable.
SET LOCAL ROLE maplatform_owner;

DROP POLICY IF EXISTS tenant_isolation ON public.tenants;
CREATE POLICY tenant_isolation ON public.tenants
AS PERMISSIVE
FOR ALL
TO PUBLIC
USING (id = (SELECT app.current_tenant_id()))
WITH CHECK (id = (SELECT app.current_tenant_id()));
