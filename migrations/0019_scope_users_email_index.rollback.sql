-- Undoes 0019_scope_users_email_index: statements run top to bottom, newest change first.
SET LOCAL ROLE maplatform_owner;

ALTER TABLE public.users RENAME CONSTRAINT idx_users_email TO users_tenant_id_email_key;
CREATE INDEX idx_users_email ON public.users (email);
