-- Undoes 0007_create_activities_and_tasks: statements run top to bottom, newest change first.
SET LOCAL ROLE maplatform_owner;

DROP TABLE public.tasks;
DROP TABLE public.activities_archive;
DROP TABLE public.activities;
