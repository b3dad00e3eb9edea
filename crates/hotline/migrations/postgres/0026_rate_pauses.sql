-- 429 pauses outlive the worker that met them (issue 14): Telegram keeps refusing a chat
-- until its retry_after has passed, whichever instance sends next, so a restarted worker or
-- a new owner after a failover reads the pauses still running instead of meeting the 429
-- again. One row per connection and scope: a chat id, or 0 for the whole bot (Telegram
-- chat ids are never 0). Expired rows are deleted when a new pause is stored.
CREATE TABLE rate_pauses (
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    chat_id       BIGINT NOT NULL,
    until_ms      BIGINT NOT NULL,
    PRIMARY KEY (connection_id, chat_id)
);
