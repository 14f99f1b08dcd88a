-- The per-organization invitation rate limit counts invitations created in the last hour
-- (`db::invitations::created_since`: organization_id = ? AND created_at > ?). The only index
-- led by organization_id is (organization_id, status, created_at), whose created_at cannot be
-- used without status, so the count walked every invitation the organization ever had, and
-- every invite POST got slower as history grew. This one makes it a range scan over the last
-- hour (bench/run.sh, perf: 12.6% of the invite POST's CPU was that count).
CREATE INDEX invitations_org_created ON invitations (organization_id, created_at);

-- An invite submission reads the pending invitations of its addresses
-- (`db::invitations::standing`: organization_id = ? AND status = ? AND email IN (…)). The
-- partial unique index on (organization_id, email) WHERE status = 'pending' serves that only
-- when the planner may look at the bound value of `status`; with SQLite's query-planner
-- stability guarantee on (.cargo/config.toml) it may not, and the query walked every pending
-- invitation of the organization (34% of the invite POST's CPU at 6,000 pending). A plain
-- index on the same columns serves it whatever the binding.
CREATE INDEX invitations_org_email ON invitations (organization_id, email);
