-- Verified domains (DESIGN.md, "Access, integration": Verified domains). An Owner names a
-- domain and an address at it; a 6-digit code mailed there proves it. The code itself is never
-- stored: it is derived from `code_nonce` with the server's token key, as link tokens are.
-- A domain is verified for one organization at a time (the partial unique index).
CREATE TABLE organization_domains (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain          TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified')),
    enrollment      TEXT NOT NULL DEFAULT 'manual' CHECK (enrollment IN ('manual', 'suggest', 'automatic')),
    default_role    TEXT NOT NULL DEFAULT 'viewer' CHECK (default_role IN ('editor', 'writer', 'viewer')),
    proof_email     TEXT NOT NULL,
    code_nonce      TEXT NOT NULL,
    code_sent_at    TIMESTAMP NOT NULL,
    code_expires_at TIMESTAMP NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_by      TEXT NOT NULL REFERENCES users (id),
    created_at      TIMESTAMP NOT NULL,
    verified_at     TIMESTAMP
);
CREATE UNIQUE INDEX organization_domains_one_per_organization ON organization_domains (organization_id, domain);
CREATE UNIQUE INDEX organization_domains_verified_once ON organization_domains (domain) WHERE status = 'verified';

-- "Invitations and invite links only to verified domains", an organization setting.
ALTER TABLE organizations ADD COLUMN restrict_to_verified_domains BOOLEAN NOT NULL DEFAULT FALSE;

-- Outbox kinds are the application's (`db::outbox::EmailKind`): the worker cancels a row of a
-- kind it does not know. A CHECK listing them would need the table rebuilt on SQLite for every
-- new kind of email (domain codes here, and more to come), so it goes.
CREATE TABLE outbox_emails_new (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
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
INSERT INTO outbox_emails_new (id, kind, invitation_id, recipient, payload, status, attempts,
                               next_attempt_at, locked_until, last_error, created_at, sent_at)
    SELECT id, kind, invitation_id, recipient, payload, status, attempts,
           next_attempt_at, locked_until, last_error, created_at, sent_at
    FROM outbox_emails;
DROP TABLE outbox_emails;
ALTER TABLE outbox_emails_new RENAME TO outbox_emails;
CREATE INDEX outbox_due ON outbox_emails (status, next_attempt_at);
CREATE INDEX outbox_invitation ON outbox_emails (invitation_id, created_at);
