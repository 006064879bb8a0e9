-- Settings stored for a tenant-facing role, or for a login that is a member of one, in this
-- database or in all: any such role may ALTER ROLE itself SET ... (PostgreSQL lets a role change
-- its own defaults), e.g. default_transaction_read_only or search_path for every later connection.
-- Parameters: %(roles)s tenant-facing role names.
WITH RECURSIVE members (oid) AS (
    SELECT oid FROM pg_roles WHERE rolname = ANY (%(roles)s)
    UNION
    SELECT m.member FROM pg_auth_members m JOIN members ON m.roleid = members.oid
)
SELECT r.rolname AS role_name,
       coalesce(db.datname, '') AS database,
       split_part(cfg, '=', 1) AS setting,
       cfg AS assignment
FROM pg_db_role_setting s
JOIN pg_roles r ON r.oid = s.setrole
LEFT JOIN pg_database db ON db.oid = s.setdatabase
CROSS JOIN LATERAL unnest(s.setconfig) AS cfg
WHERE s.setrole IN (SELECT oid FROM members)
  AND (s.setdatabase = 0 OR db.datname = current_database())
ORDER BY 1, 2, 3
