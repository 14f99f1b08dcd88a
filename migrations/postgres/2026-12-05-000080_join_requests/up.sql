-- Join requests (issue 14 §3): a signed-in person asks to join an organization, through a
-- "request access" invite link or a verified domain in *Suggest* mode, and its Owners or
-- Admins approve (choosing the role) or reject. A request takes no seat until approved.

-- "Admins approve who joins": such a link is reusable until it expires or is revoked, and
-- holds no seat.
ALTER TABLE invite_links ADD COLUMN approval_required BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE join_requests (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    invite_link_id  TEXT REFERENCES invite_links (id) ON DELETE SET NULL,
    -- Through which way in: the link (while it exists), or the verified domain.
    domain          TEXT,
    note            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    decided_by      TEXT REFERENCES users (id) ON DELETE SET NULL,
    decided_at      TIMESTAMP,
    role            TEXT CHECK (role IN ('owner', 'admin', 'editor', 'writer', 'viewer'))
);
-- At most one open request per person and organization (issue 14 §3).
CREATE UNIQUE INDEX join_requests_one_open ON join_requests (organization_id, user_id) WHERE status = 'pending';
CREATE INDEX join_requests_by_organization ON join_requests (organization_id, status, created_at);
