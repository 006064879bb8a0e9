-- Replace four ON DELETE SET NULL (column) foreign keys by the same keys without an action, and
-- clear the references in an AFTER DELETE trigger on the referenced tables instead, for all six.
--
-- Why: Citus refuses a foreign key with ON DELETE SET NULL (or SET DEFAULT) that includes the
-- distribution column, tenant_id, also with a column list that leaves it out (issue 16,
-- docs/citus.md). The keys are documents (folder_id) -> document_folders; activities,
-- activities_archive (user_id) and tasks (assigned_to) -> users; timeline.activity_timeline
-- (user_id -> users, deal_id -> deals).
--  * The four keys of plain tables are dropped and added back in one statement each, same name and
--    columns, NO ACTION, NOT VALID: a catalog change, no scan (0032 validates them under a lock that
--    lets writes go on). Dropping a foreign key takes ACCESS EXCLUSIVE on both of its tables (adding
--    one SHARE ROW EXCLUSIVE), held from the LOCK below to the commit.
--  * The timeline's two keys stay as they are on this server: TimescaleDB refuses to add any
--    constraint to a hypertable with compressed data (the community edition compresses after 7 days:
--    "operation not supported on hypertables that have compressed data") and VALIDATE CONSTRAINT on
--    one with compression enabled (both measured, 2.19.3). On a Citus coordinator the hypertable
--    becomes a plain partitioned table (a later migration) whose keys have no SET NULL. The triggers
--    clear the timeline's references on every server, so deleting a user or a deal does the same
--    everywhere: here the keys' own SET NULL then finds nothing left to clear. It also clears the
--    events in compressed chunks, which the keys' action misses (their rows are not in the chunk's
--    table): deleting a user or deal left those events pointing at it (measured); the UPDATE
--    decompresses the batches that hold them (up to 1,000 of the tenant's events each, measured), and
--    the compression policy compresses them again.
--  * ops.set_null_on_delete(), an AFTER DELETE row trigger on users, deals and document_folders,
--    sets the column to NULL in the rows that reference the deleted row, in its tenant alone
--    (tenant_id = OLD.tenant_id, as the composite key says): what PostgreSQL's SET NULL (column)
--    did, also when. The referential action is itself an AFTER row trigger (RI_ConstraintTrigger_a_*),
--    and when the row is deleted by another key's cascade (its tenant's, a deal's folders) it fires
--    after the cascades queued before it, which delete the rows that go with the same parent. A
--    BEFORE trigger would clear those rows too early: its UPDATE re-checks the other keys of a row
--    written earlier in the transaction, whose parent (the tenant, the deal) is already gone, and
--    fails (measured: deleting a tenant, or a deal whose folder holds its documents, after writing
--    them in the same transaction). Triggers of one event fire in name order, and the new keys' NO
--    ACTION checks (RI_ConstraintTrigger_a_*) must find the references cleared: the trigger's name,
--    "0_set_null_on_delete", sorts before them.
--    A delete that fails (another key still refers to the row) undoes the cleared references with
--    it, as before. On Citus the trigger runs on the deleted row's shard and updates the co-located
--    shards there (measured, docs/citus.md), with citus.enable_unsafe_triggers when distributing.
--  * Who clears them: the referential action ran as the table's owner with row-level security
--    bypassed, whoever deleted. The trigger runs as maplatform_maintenance (BYPASSRLS; SECURITY
--    DEFINER, fixed search_path; in ops, where that role may own functions): as the owner, whose row
--    security is forced, it would see no row when the deleter has no tenant context (a superuser, a
--    maintenance job) or another tenant's, and the NO ACTION key would then refuse the delete
--    (measured). That role gets UPDATE on the four columns alone, and on the whole timeline
--    (TimescaleDB's community edition gives a grant on the hypertable to its compressed hypertable
--    too, which has no columns until a chunk is compressed: a grant of columns fails there). The
--    tables it touches are in its arguments, fixed by CREATE TRIGGER; nobody but the owner roles may
--    execute it. Its UPDATEs fire the referencing tables' own triggers as the referential action's
--    did (tasks' updated_at, the same-tenant checks of attachments and task dependencies, which read
--    tasks: hence SELECT on tasks' tenant_id and id).
SET LOCAL ROLE maplatform_owner;

CREATE FUNCTION ops.set_null_on_delete()
RETURNS TRIGGER
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- TG_ARGV: pairs of a table and its column that references the deleted row's (tenant_id, id).
    FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
        EXECUTE format('UPDATE %1$s SET %2$I = NULL WHERE tenant_id = $1 AND %2$I = $2',
                       TG_ARGV[2 * i]::REGCLASS, TG_ARGV[2 * i + 1])
        USING OLD.tenant_id, OLD.id;
    END LOOP;
    RETURN NULL;
END
$$;
ALTER FUNCTION ops.set_null_on_delete() OWNER TO maplatform_maintenance;
COMMENT ON FUNCTION ops.set_null_on_delete() IS
    'AFTER DELETE row trigger: sets each (table, column) of its arguments to NULL where it references the deleted '
    'row in its tenant (ON DELETE SET NULL (column), which Citus refuses); runs as maplatform_maintenance';

GRANT UPDATE (user_id) ON public.activities, public.activities_archive TO maplatform_maintenance;
GRANT SELECT (tenant_id, id, assigned_to), UPDATE (assigned_to) ON public.tasks TO maplatform_maintenance;
GRANT UPDATE (folder_id) ON public.documents TO maplatform_maintenance;
GRANT UPDATE ON timeline.activity_timeline TO maplatform_maintenance;

-- The application's order, as in 0030: parents before children. deals only gets a trigger: SHARE ROW
-- EXCLUSIVE, which CREATE TRIGGER takes, lets it be read.
LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE;
LOCK TABLE public.deals IN SHARE ROW EXCLUSIVE MODE;
LOCK TABLE public.document_folders, public.documents, public.activities, public.activities_archive, public.tasks
IN ACCESS EXCLUSIVE MODE;

-- dbtool-lint: ignore squawk/ban-drop-constraint because the same statement adds the key back, without SET NULL
ALTER TABLE public.documents DROP CONSTRAINT documents_tenant_id_folder_id_fkey,
ADD CONSTRAINT documents_tenant_id_folder_id_fkey
FOREIGN KEY (tenant_id, folder_id) REFERENCES public.document_folders (tenant_id, id) NOT VALID;

-- dbtool-lint: ignore squawk/ban-drop-constraint because the same statement adds the key back, without SET NULL
ALTER TABLE public.activities DROP CONSTRAINT activities_tenant_id_user_id_fkey,
ADD CONSTRAINT activities_tenant_id_user_id_fkey
FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) NOT VALID;

-- dbtool-lint: ignore squawk/ban-drop-constraint because the same statement adds the key back, without SET NULL
ALTER TABLE public.activities_archive DROP CONSTRAINT activities_archive_tenant_id_user_id_fkey,
ADD CONSTRAINT activities_archive_tenant_id_user_id_fkey
FOREIGN KEY (tenant_id, user_id) REFERENCES public.users (tenant_id, id) NOT VALID;

-- dbtool-lint: ignore squawk/ban-drop-constraint because the same statement adds the key back, without SET NULL
ALTER TABLE public.tasks DROP CONSTRAINT tasks_tenant_id_assigned_to_fkey,
ADD CONSTRAINT tasks_tenant_id_assigned_to_fkey
FOREIGN KEY (tenant_id, assigned_to) REFERENCES public.users (tenant_id, id) NOT VALID;

-- "0_": fires before the keys' own triggers (RI_ConstraintTrigger_*), as the SET NULL action did.
CREATE TRIGGER "0_set_null_on_delete" AFTER DELETE ON public.users
FOR EACH ROW EXECUTE FUNCTION ops.set_null_on_delete(
    'public.activities', 'user_id', 'public.activities_archive', 'user_id', 'public.tasks', 'assigned_to',
    'timeline.activity_timeline', 'user_id'
);
CREATE TRIGGER "0_set_null_on_delete" AFTER DELETE ON public.deals
FOR EACH ROW EXECUTE FUNCTION ops.set_null_on_delete('timeline.activity_timeline', 'deal_id');
CREATE TRIGGER "0_set_null_on_delete" AFTER DELETE ON public.document_folders
FOR EACH ROW EXECUTE FUNCTION ops.set_null_on_delete('public.documents', 'folder_id');
