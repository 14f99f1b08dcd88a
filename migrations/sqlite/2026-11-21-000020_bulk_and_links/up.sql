-- Issue 5: departments from CSV imports, invite links, and the indexes the Team page's
-- sorted, paged and filtered tables need.

-- A CSV import's department is kept on the invitation and carried onto the membership.
ALTER TABLE invitations ADD COLUMN department TEXT;
ALTER TABLE memberships ADD COLUMN department TEXT;

-- Invite links: bound to no email, single use, with a role and an expiry. The link is shown
-- once, so only the SHA-256 of its token is stored.
CREATE TABLE invite_links (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'writer', 'viewer')),
    created_by      TEXT NOT NULL REFERENCES users (id),
    token_hash      TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'used', 'revoked')),
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    used_by         TEXT REFERENCES users (id) ON DELETE SET NULL,
    decided_at      TIMESTAMP
);
CREATE INDEX invite_links_org ON invite_links (organization_id, status, created_at);

-- A CSV import between its preview and its confirmation: the uploaded file, so the
-- confirmation sends exactly what was previewed (re-checked at that moment). Deleted when
-- confirmed, and by the maintenance sweep once it expires.
CREATE TABLE invitation_imports (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    file_name       TEXT NOT NULL,
    content         TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL
);
CREATE INDEX invitation_imports_expiry ON invitation_imports (expires_at);

-- The Team page lists members in joined order by default: this index gives that order, so
-- the first page of a 10,000-member team reads 50 rows.
CREATE INDEX memberships_org ON memberships (organization_id, created_at, id);
-- The last-Owner rule counts an organization's Owners on every Team page.
CREATE INDEX memberships_org_role ON memberships (organization_id, role);
