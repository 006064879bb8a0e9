-- The comment on app.verified_tenant() says how the policies call it, and 0037 gave them a second
-- form: on a Citus coordinator the plain call (Citus refuses a sub-select in a policy of a
-- distributed table), on plain PostgreSQL still the sub-select. A DBA reading \df+ should find both.
SET LOCAL ROLE maplatform_owner;

COMMENT ON FUNCTION app.verified_tenant() IS
    'The tenant of the registered, unexpired token of this transaction or session; NULL otherwise. '
    'Policies call it as (SELECT app.verified_tenant()), on a Citus coordinator as app.verified_tenant() '
    '(sql/policies/, docs/citus.md)';
