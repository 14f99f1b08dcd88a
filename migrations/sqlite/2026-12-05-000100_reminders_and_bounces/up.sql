-- Invitation reminders (issue 15 §3): a pending invitation gets reminder emails on days 2 and
-- 5 of a 7-day window (scaled to its lifetime); `reminders_sent` counts those queued, so the
-- sweep sends each once. Organizations can turn reminders off. A permanent SMTP failure (5xx)
-- of an invitation's email marks it `bounced_at`: the Team page offers "Fix address".
ALTER TABLE invitations ADD COLUMN reminders_sent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN invitation_reminders BOOLEAN NOT NULL DEFAULT 1;
ALTER TABLE invitations ADD COLUMN bounced_at TIMESTAMP;
