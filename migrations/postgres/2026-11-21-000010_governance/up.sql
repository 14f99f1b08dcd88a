-- Issue 4: tenant-owner invitations, self-serve sign-up, requests for a new invitation and
-- the append-only audit trail.

CREATE TABLE tenant_invitations (
    id              TEXT PRIMARY KEY NOT NULL,
    email           TEXT NOT NULL,               -- normalized
    plan            TEXT NOT NULL CHECK (plan IN ('trial', 'starter', 'professional', 'enterprise')),
    message         TEXT,
    invited_by      TEXT NOT NULL REFERENCES users (id),
    token_nonce     TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'accepted', 'revoked', 'declined', 'expired')),
    status_reason   TEXT,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    last_resent_at  TIMESTAMP,
    resend_count    INTEGER NOT NULL DEFAULT 0,
    decided_at      TIMESTAMP,
    accepted_by     TEXT REFERENCES users (id) ON DELETE SET NULL,
    organization_id TEXT REFERENCES organizations (id) ON DELETE SET NULL  -- created on acceptance
);
CREATE UNIQUE INDEX tenant_invitations_one_pending ON tenant_invitations (email) WHERE status = 'pending';
CREATE INDEX tenant_invitations_created ON tenant_invitations (created_at);

CREATE TABLE signup_requests (
    id          TEXT PRIMARY KEY NOT NULL,
    email       TEXT NOT NULL,                   -- normalized
    token_nonce TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX signup_requests_email ON signup_requests (email, created_at);

-- "Request a new invitation" from an expired link: at most once a day per invitation.
ALTER TABLE invitations ADD COLUMN renewal_requested_at TIMESTAMP;

-- The audit trail. Append-only: no code path updates or deletes it, and triggers refuse it.
CREATE TABLE audit_events (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT,                        -- no foreign key: the trail outlives what it names
    action          TEXT NOT NULL,               -- e.g. invitation.sent, member.role_changed
    actor_id        TEXT,                        -- NULL for the system (expiry sweep)
    actor_label     TEXT NOT NULL,               -- name <email> at the time, or "system"
    actor_is_staff  BOOLEAN NOT NULL,
    target          TEXT,                        -- whom or what it was about
    details         TEXT,
    ip              TEXT,
    user_agent      TEXT,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_org ON audit_events (organization_id, created_at);
CREATE INDEX audit_events_org_action ON audit_events (organization_id, action, created_at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
