DROP INDEX memberships_org_role;
DROP INDEX memberships_org;
DROP TABLE invitation_imports;
DROP TABLE invite_links;
ALTER TABLE memberships DROP COLUMN department;
ALTER TABLE invitations DROP COLUMN department;
