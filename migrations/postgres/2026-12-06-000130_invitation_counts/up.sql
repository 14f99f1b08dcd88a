-- The hourly invitation limit, counted by the minute (issue 16): how many invitations each
-- organization created in each minute, kept by a trigger in the same transaction as the
-- invitations. The limit's check sums at most 61 rows instead of counting every invitation
-- of the last hour (which grew with every invite). The sweep deletes minutes over an hour old.
CREATE TABLE invitation_counts (
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    minute TIMESTAMP NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (organization_id, minute)
);

INSERT INTO invitation_counts (organization_id, minute, created)
SELECT organization_id, date_trunc('minute', created_at), count(*)
FROM invitations
WHERE created_at > (now() AT TIME ZONE 'UTC') - INTERVAL '1 hour'
GROUP BY 1, 2;

-- Once per statement: a bulk invite adds one row per minute, in key order.
CREATE FUNCTION joinery_count_invitations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO invitation_counts (organization_id, minute, created)
  SELECT organization_id, date_trunc('minute', created_at), count(*) FROM new_rows
  GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (organization_id, minute)
  DO UPDATE SET created = invitation_counts.created + EXCLUDED.created;
  RETURN NULL;
END $$;
CREATE TRIGGER invitations_count_insert AFTER INSERT ON invitations
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION joinery_count_invitations();
