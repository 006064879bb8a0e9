-- Undoes 0037_convert_policies_for_citus: on a Citus coordinator every policy that calls
-- app.verified_tenant() outside a sub-select reads it in one again, `(SELECT app.verified_tenant())`,
-- as before 0037; on PostgreSQL without Citus nothing happens (0037 changed nothing there). Citus
-- refuses the sub-select on a distributed table: the tables are undistributed first (0039's rollback
-- runs before this one). A later `dbtool migrate` applies 0037 again; the files of sql/policies/ give
-- the plain call on Citus whenever they are re-applied.
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
          -- a call outside a sub-select
          WHERE pg_catalog.strpos(pg_catalog.replace(coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '')
                                                     || ' ' || coalesce(pg_catalog.pg_get_expr(p.polwithcheck,
                                                                                               p.polrelid), ''),
                                                     sub_select, ''), plain_call) > 0
         ) AS affected;
    IF tables IS NULL THEN
        RETURN;
    END IF;
    EXECUTE 'LOCK TABLE ' || tables || ' IN ACCESS EXCLUSIVE MODE';
    FOR pol IN
        SELECT p.polname, p.polrelid::REGCLASS AS rel,
               -- every call in a sub-select, those already in one left as they are
               pg_catalog.replace(pg_catalog.replace(pg_catalog.pg_get_expr(p.polqual, p.polrelid), sub_select,
                                                     plain_call), plain_call, '(SELECT ' || plain_call || ')')
                   AS using_expr,
               pg_catalog.replace(pg_catalog.replace(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), sub_select,
                                                     plain_call), plain_call, '(SELECT ' || plain_call || ')')
                   AS check_expr
        FROM pg_catalog.pg_policy AS p
        WHERE pg_catalog.strpos(pg_catalog.replace(coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '')
                                                   || ' ' || coalesce(pg_catalog.pg_get_expr(p.polwithcheck,
                                                                                             p.polrelid), ''),
                                                   sub_select, ''), plain_call) > 0
        ORDER BY coalesce(pg_catalog.array_position(app_order, p.polrelid::REGCLASS::TEXT), 1000),
                 p.polrelid::REGCLASS::TEXT, p.polname
    LOOP
        EXECUTE pg_catalog.format('ALTER POLICY %I ON %s', pol.polname, pol.rel)
                || coalesce(' USING (' || pol.using_expr || ')', '')
                || coalesce(' WITH CHECK (' || pol.check_expr || ')', '');
    END LOOP;
END
$$;
