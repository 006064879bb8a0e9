-- Undoes 0022_enable_audit_logging.
-- dbtool-lint: ignore owner-role because database settings are the superuser's to change
DO $$
BEGIN
    EXECUTE pg_catalog.format('ALTER DATABASE %I RESET pgaudit.log', pg_catalog.current_database());
END
$$;
