-- Describe every table, column and materialized view of the M&A schema with COMMENT ON.
--
-- Why: `dbtool docs` (docs/schema/) documents the schema from the catalog, and the catalog held a
-- comment on a few tables only: a DBA or reviewer reading a table's page, psql's \d+ or any other
-- tool should learn what each column holds, which tenant it belongs to and what keeps it in that
-- tenant (composite foreign keys, the same-tenant triggers) without reading 19 migrations. The
-- views of sql/views/ carry their comments in their own files (they are re-created there).
-- timeline.daily_activity_summary is a materialized view on TimescaleDB's Apache edition and a
-- continuous aggregate (a view) on the community edition (0018): its comment names the right kind.
SET LOCAL ROLE maplatform_owner;

COMMENT ON TABLE public.tenants IS
    'Customer firms of the platform, one row per tenant: every tenant table''s tenant_id points here';
COMMENT ON COLUMN public.tenants.id IS
    'The tenant: every tenant table''s tenant_id and every verified tenant token name it';
COMMENT ON COLUMN public.tenants.subdomain IS 'The tenant''s subdomain (lower-case letters, digits, hyphens); unique';
COMMENT ON COLUMN public.tenants.company_name IS 'The customer firm''s name as shown in the product';
COMMENT ON COLUMN public.tenants.plan IS 'Subscription plan (starter by default); the limits in settings follow it';
COMMENT ON COLUMN public.tenants.stripe_customer_id IS 'Stripe customer of the subscription; unique';
COMMENT ON COLUMN public.tenants.stripe_subscription_id IS 'Stripe subscription, once the tenant has subscribed';
COMMENT ON COLUMN public.tenants.trial_ends_at IS 'When the trial ends; NULL when there is no trial';
COMMENT ON COLUMN public.tenants.settings IS 'Feature switches and plan limits (users, deals, storage_gb) as JSON';
COMMENT ON COLUMN public.tenants.onboarding_completed IS 'Whether the tenant finished onboarding';
COMMENT ON COLUMN public.tenants.is_active IS 'FALSE for a suspended tenant';
COMMENT ON COLUMN public.tenants.created_at IS 'When the tenant was created';
COMMENT ON COLUMN public.tenants.updated_at IS 'When the row last changed (trigger tenants_touch_updated_at)';

COMMENT ON TABLE public.users IS 'People of a tenant who sign in (through Clerk); unique by email within the tenant';
COMMENT ON COLUMN public.users.id IS 'The user';
COMMENT ON COLUMN public.users.tenant_id IS 'The user''s tenant (defaults to the verified tenant of the session)';
COMMENT ON COLUMN public.users.clerk_id IS 'The user''s id at Clerk, the identity provider; unique across tenants';
COMMENT ON COLUMN public.users.email IS
    'Sign-in address; unique within the tenant (index idx_users_email leads with tenant_id)';
COMMENT ON COLUMN public.users.first_name IS 'Given name';
COMMENT ON COLUMN public.users.last_name IS 'Family name';
COMMENT ON COLUMN public.users.avatar_url IS 'Profile picture URL';
COMMENT ON COLUMN public.users.title IS 'Job title';
COMMENT ON COLUMN public.users.phone IS 'Phone number as entered';
COMMENT ON COLUMN public.users.role IS 'Role in the tenant''s workspace (member by default)';
COMMENT ON COLUMN public.users.permissions IS 'Extra permissions granted to the user in the application';
COMMENT ON COLUMN public.users.preferences IS 'Notification channels, time zone and locale as JSON';
COMMENT ON COLUMN public.users.is_active IS 'FALSE for a deactivated user, who can no longer sign in';
COMMENT ON COLUMN public.users.last_login_at IS 'When the user last signed in';
COMMENT ON COLUMN public.users.created_at IS 'When the user was created';
COMMENT ON COLUMN public.users.updated_at IS 'When the row last changed (trigger users_touch_updated_at)';

COMMENT ON TABLE public.user_sessions IS
    'Signed-in sessions of users; expired ones are deleted hourly by the cleanup_sessions job';
COMMENT ON COLUMN public.user_sessions.id IS 'The session';
COMMENT ON COLUMN public.user_sessions.tenant_id IS 'The session''s tenant';
COMMENT ON COLUMN public.user_sessions.user_id IS 'The signed-in user (same tenant)';
COMMENT ON COLUMN public.user_sessions.token_hash IS
    'SHA-256 (hex) of the session token: the token itself is never stored; unique';
COMMENT ON COLUMN public.user_sessions.ip_address IS 'Client address at sign-in';
COMMENT ON COLUMN public.user_sessions.user_agent IS 'Client user agent at sign-in';
COMMENT ON COLUMN public.user_sessions.expires_at IS 'When the session ends; ops.cleanup_sessions() deletes it after';
COMMENT ON COLUMN public.user_sessions.created_at IS 'When the session started';

COMMENT ON TABLE public.pipeline_stages IS
    'Each tenant''s deal pipeline: stage names, order, colours and default probabilities';
COMMENT ON COLUMN public.pipeline_stages.id IS 'The stage row';
COMMENT ON COLUMN public.pipeline_stages.tenant_id IS 'The stage''s tenant';
COMMENT ON COLUMN public.pipeline_stages.name IS
    'Stage key as deals.stage holds it (valid_stage lists the allowed keys); unique per tenant';
COMMENT ON COLUMN public.pipeline_stages.display_name IS 'Stage name as shown to users';
COMMENT ON COLUMN public.pipeline_stages.order_index IS 'Position of the stage in the pipeline; unique per tenant';
COMMENT ON COLUMN public.pipeline_stages.probability_default IS
    'Win probability (per cent) a deal entering the stage gets by default';
COMMENT ON COLUMN public.pipeline_stages.color IS 'Display colour, #RRGGBB';
COMMENT ON COLUMN public.pipeline_stages.is_active IS 'FALSE for a stage no longer offered';

COMMENT ON TABLE public.deals IS 'M&A deals a tenant works on, with their pipeline stage, value and team';
COMMENT ON COLUMN public.deals.id IS 'The deal';
COMMENT ON COLUMN public.deals.tenant_id IS 'The deal''s tenant';
COMMENT ON COLUMN public.deals.name IS 'Deal name';
COMMENT ON COLUMN public.deals.description IS 'Free-text description';
COMMENT ON COLUMN public.deals.deal_type IS 'Kind of transaction (acquisition by default)';
COMMENT ON COLUMN public.deals.stage IS 'Pipeline stage (valid_stage); see pipeline_stages for the tenant''s names';
COMMENT ON COLUMN public.deals.stage_entered_at IS 'When the deal entered its current stage';
COMMENT ON COLUMN public.deals.stage_history IS 'Earlier stages with their dates, as a JSON array';
COMMENT ON COLUMN public.deals.value IS 'Deal value in currency';
COMMENT ON COLUMN public.deals.currency IS 'ISO 4217 code of value (GBP by default)';
COMMENT ON COLUMN public.deals.probability IS 'Win probability in per cent, 0 to 100';
COMMENT ON COLUMN public.deals.expected_close_date IS 'When the deal is expected to close';
COMMENT ON COLUMN public.deals.actual_close_date IS 'When the deal closed, won or lost';
COMMENT ON COLUMN public.deals.owner_id IS 'User responsible for the deal (same tenant)';
COMMENT ON COLUMN public.deals.team_ids IS
    'Users on the deal team (same tenant: checked by the deals_team_ids_same_tenant triggers)';
COMMENT ON COLUMN public.deals.custom_fields IS 'Tenant-defined fields as JSON';
COMMENT ON COLUMN public.deals.tags IS 'Free-form labels';
COMMENT ON COLUMN public.deals.ai_score IS 'AI-estimated likelihood of closing, 0 to 1';
COMMENT ON COLUMN public.deals.ai_insights IS 'AI-generated observations about the deal, as JSON';
COMMENT ON COLUMN public.deals.ai_updated_at IS 'When ai_score and ai_insights were last computed';
COMMENT ON COLUMN public.deals.created_by IS 'User who created the deal (same tenant)';
COMMENT ON COLUMN public.deals.created_at IS 'When the deal was created';
COMMENT ON COLUMN public.deals.updated_at IS 'When the row last changed (trigger deals_touch_updated_at)';
COMMENT ON COLUMN public.deals.archived_at IS
    'When the deal was archived; NULL for a live deal (the dashboard indexes skip archived ones)';
COMMENT ON COLUMN public.deals.version IS 'Row version for optimistic locking by the application';

COMMENT ON TABLE public.deal_team_members IS 'Who works on a deal and in which role; one row per deal and user';
COMMENT ON COLUMN public.deal_team_members.id IS 'The membership';
COMMENT ON COLUMN public.deal_team_members.tenant_id IS 'The membership''s tenant';
COMMENT ON COLUMN public.deal_team_members.deal_id IS 'The deal (same tenant)';
COMMENT ON COLUMN public.deal_team_members.user_id IS 'The team member (same tenant); unique per deal';
COMMENT ON COLUMN public.deal_team_members.role IS 'Role on the deal team (member by default)';
COMMENT ON COLUMN public.deal_team_members.permissions IS 'Deal-level permissions of the member';
COMMENT ON COLUMN public.deal_team_members.added_by IS 'User who added the member (same tenant)';
COMMENT ON COLUMN public.deal_team_members.added_at IS 'When the member was added';

COMMENT ON TABLE public.document_folders IS 'Folder tree of a deal''s documents (materialized path)';
COMMENT ON COLUMN public.document_folders.id IS 'The folder';
COMMENT ON COLUMN public.document_folders.tenant_id IS 'The folder''s tenant';
COMMENT ON COLUMN public.document_folders.deal_id IS 'The deal whose documents it holds (same tenant)';
COMMENT ON COLUMN public.document_folders.parent_id IS 'Parent folder (same tenant); NULL for a root folder';
COMMENT ON COLUMN public.document_folders.name IS 'Folder name; unique within its parent';
COMMENT ON COLUMN public.document_folders.path IS 'Materialized path of folder names from the root';
COMMENT ON COLUMN public.document_folders.depth IS 'Number of ancestors (0 for a root folder)';
COMMENT ON COLUMN public.document_folders.permissions IS 'Folder-level access rules as JSON';
COMMENT ON COLUMN public.document_folders.created_by IS 'User who created the folder (same tenant)';
COMMENT ON COLUMN public.document_folders.created_at IS 'When the folder was created';

COMMENT ON TABLE public.documents IS
    'Files of a deal: storage location, versions, virus scan, AI analysis, embedding and full-text vector';
COMMENT ON COLUMN public.documents.id IS 'The document (one version of a file)';
COMMENT ON COLUMN public.documents.tenant_id IS 'The document''s tenant';
COMMENT ON COLUMN public.documents.deal_id IS 'The deal it belongs to (same tenant)';
COMMENT ON COLUMN public.documents.folder_id IS 'Folder it is filed in (same tenant); NULL when the folder is deleted';
COMMENT ON COLUMN public.documents.name IS 'File name as uploaded';
COMMENT ON COLUMN public.documents.display_name IS 'Name shown to users, when it differs from name';
COMMENT ON COLUMN public.documents.mime_type IS 'MIME type of the file';
COMMENT ON COLUMN public.documents.size_bytes IS 'File size in bytes';
COMMENT ON COLUMN public.documents.storage_key IS 'Object key in storage; unique';
COMMENT ON COLUMN public.documents.storage_bucket IS 'Storage bucket of the object';
COMMENT ON COLUMN public.documents.cdn_url IS 'URL the file is served from';
COMMENT ON COLUMN public.documents.version IS 'Version number of the file (1 for the first upload)';
COMMENT ON COLUMN public.documents.parent_version_id IS 'The previous version of the same file (same tenant)';
COMMENT ON COLUMN public.documents.is_latest IS 'TRUE for the newest version of a file';
COMMENT ON COLUMN public.documents.encryption_key IS
    'Reference to the key the file is encrypted with (not the key itself)';
COMMENT ON COLUMN public.documents.checksum IS 'SHA-256 (hex) of the file''s content';
COMMENT ON COLUMN public.documents.virus_scanned IS 'Whether the virus scan has run';
COMMENT ON COLUMN public.documents.virus_scan_result IS 'The virus scanner''s verdict as JSON';
COMMENT ON COLUMN public.documents.ai_processed IS 'Whether AI analysis has run';
COMMENT ON COLUMN public.documents.ai_summary IS 'AI-written summary; part of search_vector';
COMMENT ON COLUMN public.documents.ai_entities IS 'Entities the AI found (companies, people, amounts) as JSON';
COMMENT ON COLUMN public.documents.ai_risk_flags IS 'Risks the AI flagged as JSON';
COMMENT ON COLUMN public.documents.embeddings IS
    '1,536-dimension embedding for similarity search (HNSW index; match_documents)';
COMMENT ON COLUMN public.documents.tags IS 'Free-form labels';
COMMENT ON COLUMN public.documents.custom_metadata IS 'Tenant-defined metadata as JSON';
COMMENT ON COLUMN public.documents.uploaded_by IS 'User who uploaded the file (same tenant)';
COMMENT ON COLUMN public.documents.uploaded_at IS 'When the file was uploaded';
COMMENT ON COLUMN public.documents.last_accessed_at IS 'When the file was last opened';
COMMENT ON COLUMN public.documents.access_count IS 'How often the file was opened';
COMMENT ON COLUMN public.documents.locked_by IS 'User holding the edit lock (same tenant); NULL when unlocked';
COMMENT ON COLUMN public.documents.locked_at IS 'When the edit lock was taken';
COMMENT ON COLUMN public.documents.search_vector IS
    'Full-text vector of display_name (or name) and ai_summary, generated; searched by search_documents';

COMMENT ON TABLE public.data_rooms IS
    'Virtual data rooms of a deal: the documents shown to outside parties, with their security settings';
COMMENT ON COLUMN public.data_rooms.id IS 'The data room';
COMMENT ON COLUMN public.data_rooms.tenant_id IS 'The data room''s tenant';
COMMENT ON COLUMN public.data_rooms.deal_id IS 'The deal it serves (same tenant)';
COMMENT ON COLUMN public.data_rooms.name IS 'Data room name';
COMMENT ON COLUMN public.data_rooms.description IS 'Free-text description';
COMMENT ON COLUMN public.data_rooms.settings IS 'Watermarking, download, print, NDA and IP restrictions as JSON';
COMMENT ON COLUMN public.data_rooms.access_code IS 'Code outside parties enter; unique';
COMMENT ON COLUMN public.data_rooms.is_active IS 'FALSE for a closed data room';
COMMENT ON COLUMN public.data_rooms.expires_at IS 'When access ends; NULL for no end';
COMMENT ON COLUMN public.data_rooms.stats IS 'View and download counters as JSON';
COMMENT ON COLUMN public.data_rooms.created_by IS 'User who created the data room (same tenant)';
COMMENT ON COLUMN public.data_rooms.created_at IS 'When the data room was created';
COMMENT ON COLUMN public.data_rooms.updated_at IS 'When the row last changed (trigger data_rooms_touch_updated_at)';

COMMENT ON TABLE public.data_room_permissions IS 'What a user may do in a data room; one row per data room and user';
COMMENT ON COLUMN public.data_room_permissions.id IS 'The permission';
COMMENT ON COLUMN public.data_room_permissions.tenant_id IS 'The permission''s tenant';
COMMENT ON COLUMN public.data_room_permissions.data_room_id IS 'The data room (same tenant)';
COMMENT ON COLUMN public.data_room_permissions.user_id IS 'The user it applies to (same tenant); unique per data room';
COMMENT ON COLUMN public.data_room_permissions.can_view IS 'May open documents';
COMMENT ON COLUMN public.data_room_permissions.can_download IS 'May download documents';
COMMENT ON COLUMN public.data_room_permissions.can_print IS 'May print documents';
COMMENT ON COLUMN public.data_room_permissions.can_annotate IS 'May annotate documents';
COMMENT ON COLUMN public.data_room_permissions.allowed_folders IS
    'Folders the user may see; empty for all (same tenant: checked by trigger)';
COMMENT ON COLUMN public.data_room_permissions.denied_folders IS
    'Folders the user may not see (same tenant: checked by trigger)';
COMMENT ON COLUMN public.data_room_permissions.expires_at IS 'When the permission ends; NULL for no end';
COMMENT ON COLUMN public.data_room_permissions.last_accessed_at IS 'When the user last entered the data room';
COMMENT ON COLUMN public.data_room_permissions.access_count IS 'How often the user entered the data room';
COMMENT ON COLUMN public.data_room_permissions.granted_by IS 'User who granted the permission (same tenant)';
COMMENT ON COLUMN public.data_room_permissions.granted_at IS 'When the permission was granted';

COMMENT ON TABLE public.activities IS
    'The activity log of deals: calls, meetings, notes, stage changes; moved to activities_archive after a year';
COMMENT ON COLUMN public.activities.id IS 'The activity';
COMMENT ON COLUMN public.activities.tenant_id IS 'The activity''s tenant';
COMMENT ON COLUMN public.activities.deal_id IS 'The deal it concerns (same tenant)';
COMMENT ON COLUMN public.activities.user_id IS 'User who performed it (same tenant); NULL once that user is deleted';
COMMENT ON COLUMN public.activities.type IS
    'Kind of activity (valid_activity_type: email, call, meeting, note, task, document, stage_change, system)';
COMMENT ON COLUMN public.activities.title IS 'One-line summary';
COMMENT ON COLUMN public.activities.description IS 'Details';
COMMENT ON COLUMN public.activities.occurred_at IS 'When it happened';
COMMENT ON COLUMN public.activities.duration IS 'Length in minutes (calls, meetings)';
COMMENT ON COLUMN public.activities.metadata IS 'Kind-specific details as JSON';
COMMENT ON COLUMN public.activities.attachments IS 'Documents attached (same tenant: checked by trigger)';
COMMENT ON COLUMN public.activities.created_at IS 'When the row was written';
COMMENT ON COLUMN public.activities.created_by IS 'User who recorded it (same tenant)';

COMMENT ON COLUMN public.activities_archive.id IS 'The activity (its id in activities)';
COMMENT ON COLUMN public.activities_archive.tenant_id IS 'The activity''s tenant';
COMMENT ON COLUMN public.activities_archive.deal_id IS 'The deal it concerns (same tenant)';
COMMENT ON COLUMN public.activities_archive.user_id IS
    'User who performed it (same tenant); NULL once that user is deleted';
COMMENT ON COLUMN public.activities_archive.type IS
    'Kind of activity (valid_activity_type: email, call, meeting, note, task, document, stage_change, system)';
COMMENT ON COLUMN public.activities_archive.title IS 'One-line summary';
COMMENT ON COLUMN public.activities_archive.description IS 'Details';
COMMENT ON COLUMN public.activities_archive.occurred_at IS 'When it happened';
COMMENT ON COLUMN public.activities_archive.duration IS 'Length in minutes (calls, meetings)';
COMMENT ON COLUMN public.activities_archive.metadata IS 'Kind-specific details as JSON';
COMMENT ON COLUMN public.activities_archive.attachments IS 'Documents attached when it was archived';
COMMENT ON COLUMN public.activities_archive.created_at IS 'When the row was written';
COMMENT ON COLUMN public.activities_archive.created_by IS 'User who recorded it (same tenant)';
COMMENT ON COLUMN public.activities_archive.archived_at IS 'When ops.archive_activities() moved it here';

COMMENT ON TABLE public.tasks IS 'To-dos on deals, with assignee, due date and dependencies between tasks';
COMMENT ON COLUMN public.tasks.id IS 'The task';
COMMENT ON COLUMN public.tasks.tenant_id IS 'The task''s tenant';
COMMENT ON COLUMN public.tasks.title IS 'What is to be done';
COMMENT ON COLUMN public.tasks.description IS 'Details';
COMMENT ON COLUMN public.tasks.type IS 'Kind of task (general by default)';
COMMENT ON COLUMN public.tasks.deal_id IS 'The deal it belongs to (same tenant)';
COMMENT ON COLUMN public.tasks.assigned_to IS 'User who is to do it (same tenant); NULL once that user is deleted';
COMMENT ON COLUMN public.tasks.assigned_by IS 'User who assigned it (same tenant)';
COMMENT ON COLUMN public.tasks.status IS 'valid_status: pending, in_progress, completed, cancelled, blocked';
COMMENT ON COLUMN public.tasks.priority IS 'valid_priority: low, medium, high, critical';
COMMENT ON COLUMN public.tasks.due_date IS 'When it is due';
COMMENT ON COLUMN public.tasks.reminder_date IS 'When to remind the assignee';
COMMENT ON COLUMN public.tasks.completed_at IS 'When it was completed';
COMMENT ON COLUMN public.tasks.completed_by IS 'User who completed it (same tenant)';
COMMENT ON COLUMN public.tasks.depends_on IS 'Tasks that must be completed first (same tenant: checked by trigger)';
COMMENT ON COLUMN public.tasks.blocks IS 'Tasks waiting for this one (same tenant: checked by trigger)';
COMMENT ON COLUMN public.tasks.tags IS 'Free-form labels';
COMMENT ON COLUMN public.tasks.created_at IS 'When the task was created';
COMMENT ON COLUMN public.tasks.updated_at IS 'When the row last changed (trigger tasks_touch_updated_at)';

COMMENT ON TABLE public.ai_analyses IS
    'Results of AI analyses of deals and documents, with the model, its cost and its confidence';
COMMENT ON COLUMN public.ai_analyses.id IS 'The analysis';
COMMENT ON COLUMN public.ai_analyses.tenant_id IS 'The analysis''s tenant';
COMMENT ON COLUMN public.ai_analyses.deal_id IS 'The deal analysed (same tenant)';
COMMENT ON COLUMN public.ai_analyses.document_id IS 'The document analysed, if any (same tenant)';
COMMENT ON COLUMN public.ai_analyses.type IS
    'valid_analysis_type: valuation, risk_assessment, document_analysis, deal_scoring, market_analysis, '
    'comparable_analysis';
COMMENT ON COLUMN public.ai_analyses.model IS 'Model that produced it';
COMMENT ON COLUMN public.ai_analyses.model_version IS 'Version of the model';
COMMENT ON COLUMN public.ai_analyses.input_data IS 'What the model was given, as JSON';
COMMENT ON COLUMN public.ai_analyses.results IS 'What the model returned, as JSON';
COMMENT ON COLUMN public.ai_analyses.confidence_score IS 'The model''s confidence, 0 to 1';
COMMENT ON COLUMN public.ai_analyses.processing_time_ms IS 'How long the analysis took, in milliseconds';
COMMENT ON COLUMN public.ai_analyses.tokens_used IS 'Tokens the model consumed';
COMMENT ON COLUMN public.ai_analyses.cost_usd IS 'What the analysis cost, in US dollars';
COMMENT ON COLUMN public.ai_analyses.status IS 'Outcome (completed by default; error_message says why one failed)';
COMMENT ON COLUMN public.ai_analyses.error_message IS 'Why the analysis failed';
COMMENT ON COLUMN public.ai_analyses.created_at IS 'When the analysis ran';
COMMENT ON COLUMN public.ai_analyses.expires_at IS 'When the result is stale and should be recomputed';

COMMENT ON TABLE public.valuations IS
    'Valuations of a deal by method (DCF, comparables...): range, assumptions and approval';
COMMENT ON COLUMN public.valuations.id IS 'The valuation';
COMMENT ON COLUMN public.valuations.tenant_id IS 'The valuation''s tenant';
COMMENT ON COLUMN public.valuations.deal_id IS 'The deal valued (same tenant)';
COMMENT ON COLUMN public.valuations.method IS 'Valuation method';
COMMENT ON COLUMN public.valuations.base_value IS 'Central value, in currency';
COMMENT ON COLUMN public.valuations.low_value IS 'Low end of the range';
COMMENT ON COLUMN public.valuations.high_value IS 'High end of the range';
COMMENT ON COLUMN public.valuations.currency IS 'ISO 4217 code of the values (GBP by default)';
COMMENT ON COLUMN public.valuations.assumptions IS 'Inputs of the valuation as JSON';
COMMENT ON COLUMN public.valuations.calculations IS 'Intermediate results as JSON';
COMMENT ON COLUMN public.valuations.sensitivity_analysis IS 'Values under varied assumptions as JSON';
COMMENT ON COLUMN public.valuations.comparables IS 'Other deals used as comparables (same tenant: checked by trigger)';
COMMENT ON COLUMN public.valuations.confidence_score IS 'Confidence in the valuation, 0 to 1';
COMMENT ON COLUMN public.valuations.notes IS 'Free-text notes';
COMMENT ON COLUMN public.valuations.created_by IS 'User who made the valuation (same tenant)';
COMMENT ON COLUMN public.valuations.created_at IS 'When the valuation was made';
COMMENT ON COLUMN public.valuations.approved_by IS 'User who approved it (same tenant); NULL until approved';
COMMENT ON COLUMN public.valuations.approved_at IS 'When it was approved';

COMMENT ON TABLE public.comments IS
    'Threaded comments on any resource type of app.resource_types (polymorphic reference)';
COMMENT ON COLUMN public.comments.id IS 'The comment';
COMMENT ON COLUMN public.comments.tenant_id IS 'The comment''s tenant';
COMMENT ON COLUMN public.comments.commentable_type IS 'Resource type commented on (app.resource_types)';
COMMENT ON COLUMN public.comments.commentable_id IS 'Id of the resource commented on (same tenant: checked by trigger)';
COMMENT ON COLUMN public.comments.user_id IS 'Author (same tenant)';
COMMENT ON COLUMN public.comments.parent_id IS 'Comment replied to (same tenant); NULL for a thread''s first comment';
COMMENT ON COLUMN public.comments.content IS 'The comment''s text';
COMMENT ON COLUMN public.comments.resolved IS 'Whether the thread is resolved';
COMMENT ON COLUMN public.comments.resolved_by IS 'User who resolved it (same tenant)';
COMMENT ON COLUMN public.comments.resolved_at IS 'When it was resolved';
COMMENT ON COLUMN public.comments.mentions IS 'Users mentioned (same tenant: checked by trigger)';
COMMENT ON COLUMN public.comments.reactions IS 'Reactions and who gave them, as JSON';
COMMENT ON COLUMN public.comments.created_at IS 'When the comment was written';
COMMENT ON COLUMN public.comments.updated_at IS 'When the row last changed (trigger comments_touch_updated_at)';
COMMENT ON COLUMN public.comments.edited_at IS 'When the author last edited the text';

COMMENT ON TABLE public.notifications IS 'Notifications to users, with their delivery per channel';
COMMENT ON COLUMN public.notifications.id IS 'The notification';
COMMENT ON COLUMN public.notifications.tenant_id IS 'The notification''s tenant';
COMMENT ON COLUMN public.notifications.user_id IS 'Recipient (same tenant)';
COMMENT ON COLUMN public.notifications.type IS 'Kind of notification';
COMMENT ON COLUMN public.notifications.title IS 'Headline';
COMMENT ON COLUMN public.notifications.message IS 'Body text';
COMMENT ON COLUMN public.notifications.resource_type IS 'Type of the resource it is about (app.resource_types), if any';
COMMENT ON COLUMN public.notifications.resource_id IS 'Id of that resource (same tenant: checked by trigger)';
COMMENT ON COLUMN public.notifications.action_url IS 'Where the notification leads in the application';
COMMENT ON COLUMN public.notifications.read IS 'Whether the recipient has read it';
COMMENT ON COLUMN public.notifications.read_at IS 'When it was read';
COMMENT ON COLUMN public.notifications.channels IS 'Channels to deliver on (in_app by default; email, push, sms)';
COMMENT ON COLUMN public.notifications.delivered_at IS 'Delivery time per channel as JSON';
COMMENT ON COLUMN public.notifications.created_at IS 'When the notification was created';
COMMENT ON COLUMN public.notifications.expires_at IS 'When it is no longer shown';

COMMENT ON TABLE public.presence IS
    'Who is looking at which resource right now (live collaboration); one row per user and resource';
COMMENT ON COLUMN public.presence.tenant_id IS 'The tenant';
COMMENT ON COLUMN public.presence.user_id IS 'The user present (same tenant)';
COMMENT ON COLUMN public.presence.resource_type IS 'Type of the resource (app.resource_types)';
COMMENT ON COLUMN public.presence.resource_id IS 'Id of the resource (same tenant: checked by trigger)';
COMMENT ON COLUMN public.presence.cursor_position IS 'Where the user''s cursor is, as JSON';
COMMENT ON COLUMN public.presence.selection IS 'What the user has selected, as JSON';
COMMENT ON COLUMN public.presence.last_ping IS 'The client''s last heartbeat; stale rows mean the user left';

COMMENT ON TABLE timeline.activity_timeline IS
    'Every tenant''s event stream (TimescaleDB hypertable): private, read and written through the view '
    'public.activity_timeline';
COMMENT ON COLUMN timeline.activity_timeline.time IS 'When the event happened; the hypertable''s time dimension';
COMMENT ON COLUMN timeline.activity_timeline.tenant_id IS
    'The event''s tenant; the view public.activity_timeline filters on it';
COMMENT ON COLUMN timeline.activity_timeline.user_id IS
    'User who caused the event (same tenant); NULL once that user is deleted';
COMMENT ON COLUMN timeline.activity_timeline.deal_id IS
    'Deal the event concerns (same tenant); NULL once that deal is deleted';
COMMENT ON COLUMN timeline.activity_timeline.event_type IS 'Kind of event';
COMMENT ON COLUMN timeline.activity_timeline.event_data IS 'Event details as JSON';
COMMENT ON COLUMN timeline.activity_timeline.value_impacted IS 'Deal value the event concerned, for the daily summary';
COMMENT ON COLUMN timeline.activity_timeline.duration_seconds IS 'Length of the event, in seconds';
COMMENT ON COLUMN timeline.activity_timeline.ip_address IS 'Client address';
COMMENT ON COLUMN timeline.activity_timeline.user_agent IS 'Client user agent';
COMMENT ON COLUMN timeline.activity_timeline.session_id IS 'Session the event came from';

COMMENT ON COLUMN app.resource_types.resource_type IS
    'Name a polymorphic reference uses (comments.commentable_type, notifications.resource_type, '
    'presence.resource_type)';
COMMENT ON COLUMN app.resource_types.table_name IS 'Table that resource type''s ids point at';

COMMENT ON COLUMN app.tenant_tokens.token_hash IS
    'SHA-256 of the token, as the policies compute it from app.tenant_token';
COMMENT ON COLUMN app.tenant_tokens.tenant_id IS 'Tenant the token was verified for';
COMMENT ON COLUMN app.tenant_tokens.key_id IS 'Key that signed it; retiring the key deletes its tokens';
COMMENT ON COLUMN app.tenant_tokens.expires_at IS 'The token''s expiry; ops.cleanup_tenant_tokens() deletes it after';

COMMENT ON COLUMN app_private.tenant_keys.key_id IS 'Key name, as tokens name it';
COMMENT ON COLUMN app_private.tenant_keys.secret IS
    'HMAC-SHA256 secret, at least 32 bytes; never readable by a tenant-facing role';
COMMENT ON COLUMN app_private.tenant_keys.created_at IS 'When the key was added';
COMMENT ON COLUMN app_private.tenant_keys.retired_at IS 'When the key was retired; tokens it signed stop verifying';

COMMENT ON COLUMN ops.cron_jobs.jobname IS 'Job name; scheduled as <jobname>@<database>';
COMMENT ON COLUMN ops.cron_jobs.schedule IS 'cron schedule';
COMMENT ON COLUMN ops.cron_jobs.command IS 'SQL the job runs, as the owner of this table';
COMMENT ON COLUMN ops.cron_jobs.active IS 'FALSE to keep the job declared but unscheduled';

COMMENT ON MATERIALIZED VIEW public.pipeline_analytics IS
    'Per tenant and stage: deal count, values, probability, days in stage, conversion; refreshed every 15 minutes '
    '(refresh_pipeline_analytics); the application reads public.tenant_pipeline_analytics';

DO $$
BEGIN
    EXECUTE format('COMMENT ON %s timeline.daily_activity_summary IS %L',
                   CASE (SELECT c.relkind FROM pg_catalog.pg_class AS c
                         WHERE c.oid = 'timeline.daily_activity_summary'::REGCLASS)
                       WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END,
                   'Per tenant and day: events, active users and deals, value impacted; the application reads '
                   'public.tenant_daily_activity_summary');
END
$$;
