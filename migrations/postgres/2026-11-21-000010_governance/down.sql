DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
ALTER TABLE invitations DROP COLUMN renewal_requested_at;
DROP TABLE signup_requests;
DROP TABLE tenant_invitations;
