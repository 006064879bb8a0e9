-- Undoes 0004_create_tenants_and_users: statements run top to bottom, newest change first.
-- Dropping a table drops its policies, indexes and triggers with it.
SET LOCAL ROLE maplatform_owner;

DROP TABLE public.user_sessions;
DROP TABLE public.users;
DROP TABLE public.tenants;
