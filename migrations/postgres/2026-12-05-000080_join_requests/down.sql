DROP TABLE join_requests;
ALTER TABLE invite_links DROP COLUMN approval_required;
