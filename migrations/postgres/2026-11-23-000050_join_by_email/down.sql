ALTER TABLE signup_requests DROP COLUMN invite_link_id;
