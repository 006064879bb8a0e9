-- Log every read and write of the tables a regulator asks about (data rooms, their permissions,
-- documents, valuations) to the server log, with pgaudit's object audit through an auditor role.
--
-- Why: the architecture document's "Compliance: audit logging" (issue 20). 0022 logs schema and
-- role changes for the whole database; rows are not logged there, because at the platform's traffic
-- every query would bury the changes. These four tables are the exception a regulator asks for:
-- who read or changed a data room, its permissions, a document or a valuation, whoever it was, the
-- owner and a DBA included (the application's own trail, 0023, records what the application says
-- it did; this records what the database saw). pgaudit logs a statement on a relation when the role
-- named by pgaudit.role holds the privilege that statement uses on it (an AUDIT: OBJECT line naming
-- the table). maplatform_auditor is that role: NOLOGIN, member of nothing, with no member, so its
-- grants mark what is logged and let nobody do anything. Object audit does not cover TRUNCATE, and a
-- TRUNCATE of data_room_permissions would also skip 0023's row trigger: the owner role, which owns
-- the four tables, loses TRUNCATE on them (granting it back is a GRANT, which 0022 logs). Creating a
-- role and pgaudit.role are a superuser's to do: this file runs as the migrating superuser, not as
-- the owner role (as 0022).
-- dbtool-lint: ignore owner-role because roles and database settings are the superuser's to change
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'maplatform_auditor') THEN
        CREATE ROLE maplatform_auditor NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION
    WHEN duplicate_object THEN
        NULL;  -- another database's migration created it a moment ago (roles are cluster-wide)
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'the auditor role and pgaudit.role are a superuser''s to make, and % is not one', session_user
            USING HINT = 'run this migration as a superuser (docs/audit.md)';
END
$$;
COMMENT ON ROLE maplatform_auditor IS
    'pgaudit.role: what it may do on a table is what pgaudit logs there; nobody logs in as it or is a member';

GRANT SELECT, INSERT, UPDATE, DELETE
ON public.data_rooms, public.data_room_permissions, public.documents, public.valuations
TO maplatform_auditor;
REVOKE TRUNCATE ON public.data_rooms, public.data_room_permissions, public.documents, public.valuations
FROM maplatform_owner;

DO $$
BEGIN
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET pgaudit.role = %L', pg_catalog.current_database(),
                              'maplatform_auditor');
END
$$;
