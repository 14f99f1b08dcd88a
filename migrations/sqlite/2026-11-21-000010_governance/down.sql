DROP TRIGGER audit_events_no_delete;
DROP TRIGGER audit_events_no_update;
DROP TABLE audit_events;
ALTER TABLE invitations DROP COLUMN renewal_requested_at;
DROP TABLE signup_requests;
DROP TABLE tenant_invitations;
