-- Calls of the parallel bot that may be mirrored into topics (see src/gateway/journal.rs):
-- recorded before the bot gets Telegram's answer, decided by the update processor in order
-- with the users' updates (right after update `after_update`), and deleted in the deciding
-- transaction: a restart neither loses nor repeats a mirror.
CREATE TABLE gateway_calls (
    id            INTEGER PRIMARY KEY,
    connection_id BIGINT  NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    -- The newest update the bot could have seen when it made the call.
    after_update  BIGINT  NOT NULL,
    called_at     BIGINT  NOT NULL,
    -- Lower-cased method name.
    method        TEXT    NOT NULL,
    -- JSON object: the request parameters mirroring reads (chat, message ids, reply keyboard).
    request       TEXT    NOT NULL,
    -- JSON: the `result` of Telegram's answer.
    answer        TEXT    NOT NULL
);
CREATE INDEX gateway_calls_queue ON gateway_calls (connection_id, id);
