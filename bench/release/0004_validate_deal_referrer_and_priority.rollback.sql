-- Nothing to undo: a validated constraint cannot be made NOT VALID again; the previous migration's rollback drops it
SET LOCAL ROLE maplatform_owner;
