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
-- kind it does not know, so the database no longer lists them (as on SQLite).
ALTER TABLE outbox_emails DROP CONSTRAINT outbox_emails_kind_check;
