-- Validate the four foreign keys 0031 re-added without ON DELETE SET NULL.
--
-- Why: 0031 adds them NOT VALID, so that replacing them takes no scan under its ACCESS EXCLUSIVE
-- locks. VALIDATE CONSTRAINT, in a transaction of its own, scans each referencing table under a
-- SHARE UPDATE EXCLUSIVE lock (and ROW SHARE on the referenced one), so reads and writes go on while
-- it runs. Every row was checked by the same keys before 0031 and on write since, so it cannot fail.
-- The largest table last: activities.
-- As the migrating superuser (SET LOCAL ROLE NONE), not the owner role: for a role that owns both
-- tables PostgreSQL validates a foreign key with one join query run as that role, and the owner's
-- row security is forced. With no tenant context it sees no row of users: on a table with row
-- security (activities) no row either, so the key was marked valid having checked nothing, a
-- dangling reference included; on a table without row security (a hypertable's chunks) every row
-- with a user failed (both measured). The superuser reads every row.
SET LOCAL ROLE maplatform_owner;
SET LOCAL ROLE NONE;

ALTER TABLE public.documents VALIDATE CONSTRAINT documents_tenant_id_folder_id_fkey;
ALTER TABLE public.tasks VALIDATE CONSTRAINT tasks_tenant_id_assigned_to_fkey;
ALTER TABLE public.activities_archive VALIDATE CONSTRAINT activities_archive_tenant_id_user_id_fkey;
ALTER TABLE public.activities VALIDATE CONSTRAINT activities_tenant_id_user_id_fkey;
