-- Undoes 0006_create_documents_and_data_rooms: statements run top to bottom, newest change first.
-- The repeatable function match_documents reads documents (its SQL body is bound to it): it goes first.
SET LOCAL ROLE maplatform_owner;

DROP FUNCTION IF EXISTS public.match_documents(public.VECTOR, INTEGER);
DROP TABLE public.data_room_permissions;
DROP TABLE public.data_rooms;
DROP TABLE public.documents;
DROP TABLE public.document_folders;
