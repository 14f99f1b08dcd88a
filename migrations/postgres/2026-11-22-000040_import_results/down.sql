ALTER TABLE invitation_imports DROP COLUMN result;
ALTER TABLE invitation_imports DROP COLUMN sent_at;
