-- Undoes 0002_create_roles: statements run top to bottom, newest change first.
--
-- Roles are cluster-wide: another database of this cluster may still use them. So this revokes
-- exactly what 0002 granted in this database, then drops each role only if nothing depends on it
-- any more, and keeps it otherwise. Not DROP OWNED BY: it also revokes the role's privileges on
-- shared objects, i.e. CREATE on every other database of the cluster (measured; docs/roles.md).
-- A role kept because of a leftover in this database shows up in the schema comparison tests.
REVOKE SELECT ON public.pg_stat_statements FROM maplatform_owner;
GRANT SELECT ON public.pg_stat_statements, public.pg_stat_statements_info TO PUBLIC;

REVOKE USAGE, CREATE ON SCHEMA public FROM maplatform_maintenance;
REVOKE USAGE, CREATE ON SCHEMA public FROM maplatform_owner;

DO $$
BEGIN
    EXECUTE pg_catalog.format('REVOKE CREATE ON DATABASE %I FROM maplatform_owner', pg_catalog.current_database());
END
$$;

DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['maplatform_app', 'maplatform_readonly', 'maplatform_ops',
                                     'maplatform_owner', 'maplatform_maintenance']
    LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role_name);
        BEGIN
            EXECUTE pg_catalog.format('DROP ROLE %I', role_name);
        EXCEPTION WHEN dependent_objects_still_exist THEN
            RAISE NOTICE 'role % is still used (by another database of this cluster); kept', role_name;
        END;
    END LOOP;
END
$$;
