-- A confirmed CSV import is kept (until its expiry, an hour after sending) with what happened to
-- each row, so the result page has its own address: reloading it shows the result again and
-- a second confirmation is sent there instead of sending twice.
ALTER TABLE invitation_imports ADD COLUMN sent_at TIMESTAMP NULL;
ALTER TABLE invitation_imports ADD COLUMN result TEXT NULL;
