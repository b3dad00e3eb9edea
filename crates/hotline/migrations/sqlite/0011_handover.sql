-- The handover (docs/parallel-connection.md): per dialog, the parallel bot can be paused
-- while the team has the user. One row per pause; the open one (resumed_at NULL) is the
-- dialog's current state. Updates of the user received inside a pause span are withheld
-- from the bot's getUpdates/webhook for good (dropped, not released on resume), so the
-- spans are kept as long as the update log (24 h) needs them.
CREATE TABLE bot_pauses (
    id             INTEGER PRIMARY KEY,
    connection_id  BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    dialog_id      BIGINT NOT NULL REFERENCES dialogs(id) ON DELETE CASCADE,
    -- The user's private chat (= user id): what the gateway filters updates by.
    user_chat_id   BIGINT NOT NULL,
    -- Who asked: an operator's /bot off, AUTO_HANDOVER, the REST API, the bot itself.
    reason         TEXT   NOT NULL CHECK (reason IN ('operator', 'auto', 'api', 'bot')),
    -- The operator's user id (operator, auto); NULL otherwise.
    paused_by      BIGINT,
    paused_at      BIGINT NOT NULL,
    resumed_at     BIGINT,
    resumed_reason TEXT CHECK (resumed_reason IN ('operator', 'auto', 'api', 'bot')),
    resumed_by     BIGINT
);
-- At most one open pause per dialog, whatever the concurrency.
CREATE UNIQUE INDEX bot_pauses_open ON bot_pauses (dialog_id) WHERE resumed_at IS NULL;
-- Loading the spans the update log still needs at startup.
CREATE INDEX bot_pauses_recent ON bot_pauses (connection_id, resumed_at);
