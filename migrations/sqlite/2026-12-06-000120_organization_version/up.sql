-- An organization's version (issue 16): bumped in the same transaction as every change to
-- what its Team page shows — its members (and their names), invitations and the delivery
-- state of their emails, invite links, join requests, domains, and the organization itself
-- (plan, seats, settings). A page rendered at one version is reused until the next; the
-- triggers make the bump impossible to forget on any way in.
ALTER TABLE organizations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER organizations_version AFTER UPDATE ON organizations
WHEN NEW.version = OLD.version
BEGIN UPDATE organizations SET version = version + 1 WHERE id = NEW.id; END;

CREATE TRIGGER memberships_version_insert AFTER INSERT ON memberships
BEGIN UPDATE organizations SET version = version + 1 WHERE id = NEW.organization_id; END;
CREATE TRIGGER memberships_version_update AFTER UPDATE ON memberships
BEGIN UPDATE organizations SET version = version + 1 WHERE id = NEW.organization_id; END;
CREATE TRIGGER memberships_version_delete AFTER DELETE ON memberships
BEGIN UPDATE organizations SET version = version + 1 WHERE id = OLD.organization_id; END;

CREATE TRIGGER invitations_version_insert AFTER INSERT ON invitations
BEGIN UPDATE organizations SET version = version + 1 WHERE id = NEW.organization_id; END;
CREATE TRIGGER invitations_version_update AFTER UPDATE ON invitations
BEGIN UPDATE organizations SET version = version + 1 WHERE id = NEW.organization_id; END;
CREATE TRIGGER invitations_version_delete AFTER DELETE ON invitations
BEGIN UPDATE organizations SET version = version + 1 WHERE id = OLD.organization_id; END;

CREATE TRIGGER invite_links_version_insert AFTER INSERT ON invite_links
BEGIN UPDATE organizations SET version = version + 1 WHERE id = NEW.organization_id; END;
CREATE TRIGGER invite_links_version_update AFTER UPDATE ON invite_links
BEGIN UPDATE organizations SET version = version + 1 WHERE id = NEW.organization_id; END;
CREATE TRIGGER invite_links_version_delete AFTER DELETE ON invite_links
BEGIN UPDATE organizations SET version = version + 1 WHERE id = OLD.organization_id; END;

CREATE TRIGGER join_requests_version_insert AFTER INSERT ON join_requests
BEGIN UPDATE organizations SET version = version + 1 WHERE id = NEW.organization_id; END;
CREATE TRIGGER join_requests_version_update AFTER UPDATE ON join_requests
BEGIN UPDATE organizations SET version = version + 1 WHERE id = NEW.organization_id; END;
CREATE TRIGGER join_requests_version_delete AFTER DELETE ON join_requests
BEGIN UPDATE organizations SET version = version + 1 WHERE id = OLD.organization_id; END;

CREATE TRIGGER organization_domains_version_insert AFTER INSERT ON organization_domains
BEGIN UPDATE organizations SET version = version + 1 WHERE id = NEW.organization_id; END;
CREATE TRIGGER organization_domains_version_update AFTER UPDATE ON organization_domains
BEGIN UPDATE organizations SET version = version + 1 WHERE id = NEW.organization_id; END;
CREATE TRIGGER organization_domains_version_delete AFTER DELETE ON organization_domains
BEGIN UPDATE organizations SET version = version + 1 WHERE id = OLD.organization_id; END;

-- An invitation's emails: their delivery state is on the Team page.
CREATE TRIGGER outbox_emails_version_insert AFTER INSERT ON outbox_emails
WHEN NEW.invitation_id IS NOT NULL
BEGIN UPDATE organizations SET version = version + 1
  WHERE id = (SELECT organization_id FROM invitations WHERE id = NEW.invitation_id); END;
CREATE TRIGGER outbox_emails_version_update AFTER UPDATE ON outbox_emails
WHEN NEW.invitation_id IS NOT NULL
BEGIN UPDATE organizations SET version = version + 1
  WHERE id = (SELECT organization_id FROM invitations WHERE id = NEW.invitation_id); END;
CREATE TRIGGER outbox_emails_version_delete AFTER DELETE ON outbox_emails
WHEN OLD.invitation_id IS NOT NULL
BEGIN UPDATE organizations SET version = version + 1
  WHERE id = (SELECT organization_id FROM invitations WHERE id = OLD.invitation_id); END;

-- A person's name and address show in every organization they belong to, and as the inviter
-- of invitations and the creator of invite links.
CREATE TRIGGER users_version_update AFTER UPDATE OF name, email ON users
BEGIN UPDATE organizations SET version = version + 1
  WHERE id IN (SELECT organization_id FROM memberships WHERE user_id = NEW.id)
     OR id IN (SELECT organization_id FROM invitations WHERE invited_by = NEW.id)
     OR id IN (SELECT organization_id FROM invite_links WHERE created_by = NEW.id); END;
