DROP TRIGGER invitations_count_insert ON invitations;
DROP FUNCTION joinery_count_invitations();
DROP TABLE invitation_counts;
