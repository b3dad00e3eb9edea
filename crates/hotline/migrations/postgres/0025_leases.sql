-- Several instances on one database (issue 14): each connection has one owner at a time,
-- through a lease. The owner renews it before it lapses; a standby takes it once it lapsed
-- (or was released by a clean stop), and every take-over raises the epoch.
CREATE TABLE connection_leases (
    connection_id BIGINT NOT NULL PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    -- The holding instance: random per process, with its host and pid (for people).
    owner         TEXT   NOT NULL,
    -- Where the holder serves HTTP, so another instance can forward gateway calls to it.
    address       TEXT   NOT NULL,
    epoch         BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);

-- Rows in flight carry the epoch of the lease they were claimed under: recovery after a
-- take-over resets only rows of other (dead) epochs.
ALTER TABLE outbox ADD COLUMN claim_epoch BIGINT;
ALTER TABLE webhook_deliveries ADD COLUMN claim_epoch BIGINT;
