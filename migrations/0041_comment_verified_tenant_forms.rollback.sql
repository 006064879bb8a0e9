-- Undoes 0041_comment_verified_tenant_forms: the comment 0017 gave app.verified_tenant().
SET LOCAL ROLE maplatform_owner;

COMMENT ON FUNCTION app.verified_tenant() IS
    'The tenant of the registered, unexpired token of this transaction or session; NULL otherwise. '
    'Policies call it as (SELECT app.verified_tenant())';
