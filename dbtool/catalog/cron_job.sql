-- pg_cron jobs that run in this database, read from cron.job in the cron database. dbtool names
-- its jobs <job>@<database> (see dbtool/cron.py); the suffix is removed so that a database and
-- its clone under another name compare equal. Jobs scheduled by hand without that suffix are
-- drift too and keep their name, marked "(not managed by dbtool)". The user the job runs as is
-- compared (dbtool schedules every job as the owner of the jobs table: a job re-scheduled as a
-- superuser runs functions an owner-level role can replace). Run history is left out, and so are
-- the job id and the node it connects to.
SELECT CASE WHEN right(j.jobname, length(%(suffix)s)) = %(suffix)s
            THEN left(j.jobname, -length(%(suffix)s))
            ELSE coalesce(j.jobname, 'unnamed ' || md5(j.schedule || ' ' || j.command))
                 || ' (not managed by dbtool)' END AS name,
       jsonb_build_object('schedule', j.schedule, 'command', j.command, 'active', j.active,
                          'username', j.username) AS attrs
FROM cron.job AS j
WHERE j.database = %(database)s
