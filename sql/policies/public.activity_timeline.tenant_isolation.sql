-- Tenant isolation on public.activity_timeline: only the tenant set by set_tenant_context() is
-- visible and writable; with no tenant set nothing is. WITH CHECK stops writing a row for another
-- tenant and moving a row to another tenant.
-- Written as tenant_id = ANY (ARRAY[...]) rather than tenant_id = (...) like the other policies:
-- with the equality, a DELETE or UPDATE that also says WHERE tenant_id = '<uuid>' makes the planner
-- derive the pseudo-constant "<current tenant> = '<uuid>'", whose gating Result node over
-- TimescaleDB's ChunkAppend fails with "variable not found in subplan target list" (TimescaleDB
-- 2.19, issues 5475 and 6790, fixed upstream in 2026). A one-element ANY is not an equivalence the
-- planner merges, so no gate is built; the index condition is the same (measured).
-- The setting is read in a sub-select, not through app.current_tenant_id(), as in the other
-- policies: 40-60 µs a statement cheaper (docs/deviations.md).
SET LOCAL ROLE maplatform_owner;

DROP POLICY IF EXISTS tenant_isolation ON public.activity_timeline;
CREATE POLICY tenant_isolation ON public.activity_timeline
AS PERMISSIVE
FOR ALL
TO PUBLIC
USING (tenant_id = ANY(ARRAY[(SELECT NULLIF(current_setting('app.current_tenant', TRUE), '')::UUID)]))
WITH CHECK (tenant_id = ANY(ARRAY[(SELECT NULLIF(current_setting('app.current_tenant', TRUE), '')::UUID)]));
