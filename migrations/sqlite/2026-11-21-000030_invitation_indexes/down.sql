DROP INDEX invitations_org_email;
DROP INDEX invitations_org_created;
