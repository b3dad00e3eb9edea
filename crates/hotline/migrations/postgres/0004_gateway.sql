-- The parallel bot's view of its updates (see src/gateway): what it confirmed, which
-- update types it wants, and its own webhook. Durable so a restart neither re-delivers
-- confirmed updates nor forgets the bot's webhook.
CREATE TABLE gateway_state (
    connection_id   BIGINT  NOT NULL PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    -- Highest update id the bot confirmed (getUpdates offset - 1, or pushed to its webhook).
    confirmed       BIGINT  NOT NULL DEFAULT 0,
    -- JSON array of update types (sticky allowed_updates); NULL = Telegram's default set.
    allowed_updates TEXT,
    -- The bot's own webhook; NULL = getUpdates mode.
    webhook_url     TEXT,
    webhook_secret  TEXT,
    max_connections BIGINT NOT NULL DEFAULT 40,
    updated_at      BIGINT  NOT NULL
);
