-- On a Citus coordinator only: every policy that reads the tenant in a sub-select,
-- `(SELECT app.verified_tenant())`, reads it with the plain call, `app.verified_tenant()`. On
-- PostgreSQL without Citus nothing happens: the sub-select stays.
--
-- Why (issue 16, docs/citus.md): Citus refuses to distribute a table whose policy has a sub-select
-- (`Subqueries are not supported in policies on distributed tables`) and accepts the plain call, which
-- admits the same rows (app.verified_tenant() is STABLE: one value per statement). The files of
-- sql/policies/ give each policy the server's form (app.read_tenant_once_per_statement: the sub-select
-- without Citus, the call on Citus), but dbtool re-applies changed repeatable files after the pending
-- migrations, so in a database that already has its policies the migration that distributes the
-- tables (0039) would meet them as an older run of the files left them. Hence this conversion, in
-- place, before it. Migrated from empty the database has no policy yet at this point (the files create
-- them after the last migration), and this changes nothing. On PostgreSQL the sub-select stays because
-- the plain call is computed once per row wherever the comparison is not an index condition
-- (docs/benchmarks.md, "The policies' two forms").
-- Each policy keeps its name, command, roles and the rest of its expressions; ALTER POLICY is a
-- catalog change under ACCESS EXCLUSIVE, brief, the tables locked first in the order the
-- application's writes fill them (as 0030), then the others by name.
SET LOCAL ROLE maplatform_owner;

DO $$
DECLARE
    plain_call CONSTANT TEXT := 'app.verified_tenant()';
    -- how pg_get_expr() shows `(SELECT app.verified_tenant())`
    sub_select CONSTANT TEXT := '( SELECT app.verified_tenant() AS verified_tenant)';
    app_order CONSTANT TEXT[] := ARRAY[
        'public.tenants', 'public.users', 'public.user_sessions', 'public.pipeline_stages', 'public.deals',
        'public.deal_team_members', 'public.document_folders', 'public.documents', 'public.data_rooms',
        'public.data_room_permissions', 'public.activities', 'public.activities_archive', 'public.tasks',
        'public.valuations', 'public.ai_analyses', 'public.comments', 'public.notifications', 'public.presence'];
    tables TEXT;
    pol RECORD;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RETURN;
    END IF;
    -- names as pg_get_expr() and regclass show them with nothing but pg_catalog on the path: qualified
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', TRUE);
    SELECT pg_catalog.string_agg(affected.name, ', ' ORDER BY affected.rank, affected.name)
    INTO tables
    FROM (SELECT DISTINCT p.polrelid::REGCLASS::TEXT AS name,
                 coalesce(pg_catalog.array_position(app_order, p.polrelid::REGCLASS::TEXT), 1000) AS rank
          FROM pg_catalog.pg_policy AS p
          WHERE pg_catalog.strpos(pg_catalog.pg_get_expr(p.polqual, p.polrelid), sub_select) > 0
             OR pg_catalog.strpos(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), sub_select) > 0
         ) AS affected;
    IF tables IS NULL THEN
        RETURN;
    END IF;
    EXECUTE 'LOCK TABLE ' || tables || ' IN ACCESS EXCLUSIVE MODE';
    FOR pol IN
        SELECT p.polname, p.polrelid::REGCLASS AS rel,
               pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using_expr,
               pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
        FROM pg_catalog.pg_policy AS p
        WHERE pg_catalog.strpos(pg_catalog.pg_get_expr(p.polqual, p.polrelid), sub_select) > 0
           OR pg_catalog.strpos(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), sub_select) > 0
        ORDER BY coalesce(pg_catalog.array_position(app_order, p.polrelid::REGCLASS::TEXT), 1000),
                 p.polrelid::REGCLASS::TEXT, p.polname
    LOOP
        EXECUTE pg_catalog.format('ALTER POLICY %I ON %s', pol.polname, pol.rel)
                || coalesce(' USING (' || pg_catalog.replace(pol.using_expr, sub_select, plain_call) || ')', '')
                || coalesce(' WITH CHECK (' || pg_catalog.replace(pol.check_expr, sub_select, plain_call) || ')', '');
    END LOOP;
END
$$;
