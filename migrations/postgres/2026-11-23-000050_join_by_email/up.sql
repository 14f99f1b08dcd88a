-- Joining through an invite link proves the email first (DESIGN.md, Security rules: every way
-- into an organization proves the person's email before an account is bound to it). The
-- link that proves it is a sign-up request carrying the invite link it will join through;
-- the invite link itself is used only when the mailed link's form is completed.
ALTER TABLE signup_requests ADD COLUMN invite_link_id TEXT REFERENCES invite_links (id) ON DELETE CASCADE;
