-- Undoes 0006_create_documents_and_data_rooms: statements run top to bottom, newest change first.
-- The repeatable functions reading documents (their SQL bodies are bound to it) go first.
SET LOCAL ROLE maplatform_owner;

DROP FUNCTION IF EXISTS public.search_documents(TEXT, INTEGER);
DROP FUNCTION IF EXISTS public.match_documents(public.VECTOR, INTEGER);
DROP TABLE public.data_room_permissions;
DROP TABLE public.data_rooms;
REVOKE SELECT ON public.documents FROM maplatform_maintenance;
DROP TABLE public.documents;
DROP TABLE public.document_folders;
