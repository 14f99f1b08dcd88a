ALTER TABLE invitations DROP COLUMN bounced_at;
ALTER TABLE organizations DROP COLUMN invitation_reminders;
ALTER TABLE invitations DROP COLUMN reminders_sent;
