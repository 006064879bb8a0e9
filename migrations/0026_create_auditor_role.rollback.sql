-- Undoes 0026_create_auditor_role: no more object audit; the role is dropped unless another
-- database of the cluster still grants it something (roles are cluster-wide, as in 0002).
-- dbtool-lint: ignore owner-role because roles and database settings are the superuser's to change
DO $$
BEGIN
    EXECUTE pg_catalog.format('ALTER DATABASE %I RESET pgaudit.role', pg_catalog.current_database());
END
$$;

GRANT TRUNCATE ON public.data_rooms, public.data_room_permissions, public.documents, public.valuations
TO maplatform_owner;
REVOKE ALL ON public.data_rooms, public.data_room_permissions, public.documents, public.valuations
FROM maplatform_auditor;

DO $$
BEGIN
    DROP ROLE maplatform_auditor;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'role maplatform_auditor is still used (by another database of this cluster); kept';
END
$$;
