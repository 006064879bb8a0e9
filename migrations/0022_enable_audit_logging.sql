-- Log every schema change and role change of this database to the server log, with pgaudit.
--
-- Why: the architecture document's principle "Compliance: audit logging" (issue 20). pgaudit's
-- session logging writes one line for each DDL statement (CREATE, ALTER, DROP, ...) and each role
-- statement (GRANT, REVOKE, CREATE/ALTER ROLE) run in this database, whoever runs it:
--   AUDIT: SESSION,<statement>,<substatement>,DDL,CREATE TABLE,TABLE,public.x,<the statement>,<not logged>
-- Reads and writes of rows are not logged this way (the volume of an M&A platform's traffic); the
-- application's own audit trail of data-room access is a separate step of issue 20. The setting is
-- the database's, so it holds for every role and every session, dbtool's own migrations included;
-- pgaudit must be in shared_preload_libraries (`dbtool doctor` reports a server without it;
-- docs/audit.md says what lands in the log and how a DBA ships it). pgaudit.log is a superuser's
-- setting: this file runs as the migrating superuser, not as the owner role.
-- dbtool-lint: ignore owner-role because database settings are the superuser's to change
DO $$
BEGIN
    EXECUTE pg_catalog.format('ALTER DATABASE %I SET pgaudit.log = %L', pg_catalog.current_database(), 'ddl, role');
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'the audit log setting (pgaudit.log) is a superuser''s to make, and % is not one', session_user
        USING HINT = 'run this migration as a superuser (docs/audit.md)';
END
$$;
