DROP TRIGGER invitations_count_insert;
DROP TABLE invitation_counts;
