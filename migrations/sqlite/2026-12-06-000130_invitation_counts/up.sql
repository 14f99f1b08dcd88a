-- The hourly invitation limit, counted by the minute (issue 16): how many invitations each
-- organization created in each minute, kept by a trigger in the same transaction as the
-- invitations. The limit's check sums at most 61 rows instead of counting every invitation
-- of the last hour (which grew with every invite). The sweep deletes minutes over an hour old.
CREATE TABLE invitation_counts (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    minute TIMESTAMP NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (organization_id, minute)
);

INSERT INTO invitation_counts (organization_id, minute, created)
SELECT organization_id, strftime('%Y-%m-%d %H:%M:00', created_at), count(*)
FROM invitations
WHERE created_at > strftime('%Y-%m-%d %H:%M:%S', 'now', '-1 hour')
GROUP BY 1, 2;

CREATE TRIGGER invitations_count_insert AFTER INSERT ON invitations
BEGIN
    INSERT INTO invitation_counts (organization_id, minute, created)
    VALUES (NEW.organization_id, strftime('%Y-%m-%d %H:%M:00', NEW.created_at), 1)
    ON CONFLICT (organization_id, minute) DO UPDATE SET created = created + 1;
END;
