-- An organization's version (issue 16): bumped in the same transaction as every change to
-- what its Team page shows — its members (and their names), invitations and the delivery
-- state of their emails, invite links, join requests, domains, and the organization itself
-- (plan, seats, settings). A page rendered at one version is reused until the next; the
-- triggers make the bump impossible to forget on any way in.
--
-- Statement-level triggers: a statement that changes many rows (a bulk invite, the outbox's
-- claim, the sweep) bumps each organization once, and locks their rows in id order, so two
-- such statements touching the same organizations cannot deadlock.
ALTER TABLE organizations ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION joinery_bump_versions(orgs TEXT[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM organizations WHERE id = ANY(orgs) ORDER BY id FOR UPDATE;
  UPDATE organizations SET version = version + 1 WHERE id = ANY(orgs);
END $$;

-- A change to the organization row itself bumps it (unless the change is the bump).
CREATE FUNCTION joinery_organization_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.version = OLD.version THEN NEW.version := OLD.version + 1; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER organizations_version BEFORE UPDATE ON organizations
FOR EACH ROW EXECUTE FUNCTION joinery_organization_version();

-- Tables with an organization_id column.
CREATE FUNCTION joinery_version_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM joinery_bump_versions(ARRAY(SELECT DISTINCT organization_id FROM new_rows));
  RETURN NULL;
END $$;
CREATE FUNCTION joinery_version_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM joinery_bump_versions(ARRAY(SELECT DISTINCT organization_id FROM old_rows));
  RETURN NULL;
END $$;

CREATE TRIGGER memberships_version_insert AFTER INSERT ON memberships
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_new();
CREATE TRIGGER memberships_version_update AFTER UPDATE ON memberships
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_new();
CREATE TRIGGER memberships_version_delete AFTER DELETE ON memberships
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_old();

CREATE TRIGGER invitations_version_insert AFTER INSERT ON invitations
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_new();
CREATE TRIGGER invitations_version_update AFTER UPDATE ON invitations
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_new();
CREATE TRIGGER invitations_version_delete AFTER DELETE ON invitations
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_old();

CREATE TRIGGER invite_links_version_insert AFTER INSERT ON invite_links
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_new();
CREATE TRIGGER invite_links_version_update AFTER UPDATE ON invite_links
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_new();
CREATE TRIGGER invite_links_version_delete AFTER DELETE ON invite_links
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_old();

CREATE TRIGGER join_requests_version_insert AFTER INSERT ON join_requests
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_new();
CREATE TRIGGER join_requests_version_update AFTER UPDATE ON join_requests
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_new();
CREATE TRIGGER join_requests_version_delete AFTER DELETE ON join_requests
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_old();

CREATE TRIGGER organization_domains_version_insert AFTER INSERT ON organization_domains
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_new();
CREATE TRIGGER organization_domains_version_update AFTER UPDATE ON organization_domains
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_new();
CREATE TRIGGER organization_domains_version_delete AFTER DELETE ON organization_domains
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_version_old();

-- An invitation's emails: their delivery state is on the Team page.
CREATE FUNCTION joinery_outbox_version_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM joinery_bump_versions(ARRAY(SELECT DISTINCT i.organization_id FROM new_rows n
    JOIN invitations i ON i.id = n.invitation_id));
  RETURN NULL;
END $$;
CREATE FUNCTION joinery_outbox_version_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM joinery_bump_versions(ARRAY(SELECT DISTINCT i.organization_id FROM old_rows o
    JOIN invitations i ON i.id = o.invitation_id));
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_emails_version_insert AFTER INSERT ON outbox_emails
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_outbox_version_new();
CREATE TRIGGER outbox_emails_version_update AFTER UPDATE ON outbox_emails
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_outbox_version_new();
CREATE TRIGGER outbox_emails_version_delete AFTER DELETE ON outbox_emails
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_outbox_version_old();

-- A person's name and address show in every organization they belong to, and as the inviter
-- of invitations and the creator of invite links.
CREATE FUNCTION joinery_user_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name IS DISTINCT FROM OLD.name OR NEW.email IS DISTINCT FROM OLD.email THEN
    PERFORM joinery_bump_versions(ARRAY(
      SELECT organization_id FROM memberships WHERE user_id = NEW.id
      UNION SELECT organization_id FROM invitations WHERE invited_by = NEW.id
      UNION SELECT organization_id FROM invite_links WHERE created_by = NEW.id));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER users_version_update AFTER UPDATE ON users
FOR EACH ROW EXECUTE FUNCTION joinery_user_version();
