-- Joinery's first schema (SQLite). Ids are UUID text, times are UTC timestamps, enums are
-- stored by name and checked, so a bad value can never be written.

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,          -- normalized: trimmed, ASCII-lowercased
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,                 -- argon2id PHC string
    is_staff      BOOLEAN NOT NULL DEFAULT 0,
    created_at    TIMESTAMP NOT NULL
);

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    plan       TEXT NOT NULL CHECK (plan IN ('trial', 'starter', 'professional', 'enterprise')),
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE memberships (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'writer', 'viewer')),
    invited_by      TEXT REFERENCES users (id) ON DELETE SET NULL,
    notify_on_join  BOOLEAN NOT NULL DEFAULT 1,
    created_at      TIMESTAMP NOT NULL,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invitations (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,               -- normalized
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'writer', 'viewer')),
    message         TEXT,
    invited_by      TEXT NOT NULL REFERENCES users (id),
    token_nonce     TEXT NOT NULL,               -- the link is HMAC(token key, nonce); never stored
    token_hash      TEXT NOT NULL UNIQUE,        -- SHA-256 of the token, for look-up
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'accepted', 'revoked', 'declined', 'expired')),
    status_reason   TEXT,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    last_resent_at  TIMESTAMP,
    resend_count    INTEGER NOT NULL DEFAULT 0,
    decided_at      TIMESTAMP,
    accepted_by     TEXT REFERENCES users (id) ON DELETE SET NULL
);
-- At most one pending invitation per address and organization: the database, not only the
-- code, refuses a duplicate when two invite requests race.
CREATE UNIQUE INDEX invitations_one_pending ON invitations (organization_id, email) WHERE status = 'pending';
CREATE INDEX invitations_org_status ON invitations (organization_id, status, created_at);

-- Server-side sessions (actix-session's store). The cookie holds a random key; only its
-- SHA-256 is stored here.
CREATE TABLE sessions (
    key_hash   TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- The transactional outbox: written in the same transaction as the action that sends mail.
-- Invitation emails are rendered at delivery so the link (a secret) is never stored.
CREATE TABLE outbox_emails (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('invitation', 'member_joined', 'tenant_invitation',
                                                 'signup', 'signup_existing', 'renewal_request')),
    invitation_id   TEXT REFERENCES invitations (id) ON DELETE CASCADE,
    recipient       TEXT NOT NULL,
    payload         TEXT NOT NULL,               -- JSON, per kind
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until    TIMESTAMP,                   -- a worker's lease while status = 'sending'
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE INDEX outbox_due ON outbox_emails (status, next_attempt_at);
CREATE INDEX outbox_invitation ON outbox_emails (invitation_id, created_at);
