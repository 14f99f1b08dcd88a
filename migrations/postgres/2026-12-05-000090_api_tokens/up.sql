-- API tokens (issue 15 §1): made by an organization's Owners on Settings → API tokens, each
-- acting in its own organization with a role of at most its creator's. Only the token's
-- SHA-256 is stored; the token itself is shown once.
CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'writer', 'viewer')),
    created_by      TEXT NOT NULL REFERENCES users (id),
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP,
    last_used_at    TIMESTAMP,
    revoked_at      TIMESTAMP,
    revoked_reason  TEXT
);
CREATE INDEX api_tokens_by_organization ON api_tokens (organization_id, created_at);
