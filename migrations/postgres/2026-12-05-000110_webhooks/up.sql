-- Signed webhooks (issue 15 §2). An Owner registers an endpoint (a URL, the events to send,
-- a signing secret shown once). Each event is written to `webhook_deliveries` — the webhook
-- outbox — in the same transaction as its change, one row per subscribed endpoint, and the
-- webhook worker delivers it at least once; the row's id is the `webhook-id` every retry
-- carries. An endpoint failing for 3 days is disabled.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    secret          TEXT NOT NULL,
    created_by      TEXT NOT NULL REFERENCES users (id),
    created_at      TIMESTAMP NOT NULL,
    failing_since   TIMESTAMP,
    disabled_at     TIMESTAMP
);
CREATE INDEX webhook_endpoints_by_organization ON webhook_endpoints (organization_id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY NOT NULL,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until    TIMESTAMP,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    delivered_at    TIMESTAMP
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);
