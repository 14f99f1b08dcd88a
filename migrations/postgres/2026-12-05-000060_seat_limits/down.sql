ALTER TABLE organizations DROP COLUMN seat_limit;
