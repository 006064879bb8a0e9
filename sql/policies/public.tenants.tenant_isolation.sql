-- Tenant isolation on public.tenants: only the tenant of the verified token set by
-- set_tenant_context(token) is visible and writable; with no token, or one nobody verified, nothing
-- is (set_config() alone reaches no tenant). WITH CHECK stops writing a row for another tenant and
-- moving a row to another tenant. The tenant is read in a sub-select (an InitPlan, once per
-- statement, so the comparison is an index condition) from app.tenant_tokens by the token's
-- SHA-256, not by calling a function: a SECURITY DEFINER verification on every statement cost
-- 60-90 µs (docs/deviations.md).
SET LOCAL ROLE maplatform_owner;

DROP POLICY IF EXISTS tenant_isolation ON public.tenants;
CREATE POLICY tenant_isolation ON public.tenants
AS PERMISSIVE
FOR ALL
TO PUBLIC
USING (id = (
    SELECT t.tenant_id FROM app.tenant_tokens AS t
    WHERE t.token_hash = sha256(convert_to(current_setting('app.tenant_token', TRUE), 'UTF8'))
      AND t.expires_at > now()
))
WITH CHECK (id = (
    SELECT t.tenant_id FROM app.tenant_tokens AS t
    WHERE t.token_hash = sha256(convert_to(current_setting('app.tenant_token', TRUE), 'UTF8'))
      AND t.expires_at > now()
));
