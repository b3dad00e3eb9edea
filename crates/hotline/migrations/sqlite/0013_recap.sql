-- RECAP (with PRIVATE_KEYWORDS): the last messages of a user's conversation with the bot
-- before a dialog opened — the user's and, through the gateway, the parallel bot's — so the
-- topic that opens starts with them. Written only while RECAP > 0, at most RECAP rows per
-- user, removed when the recap is posted.
CREATE TABLE recap_messages (
    id            INTEGER PRIMARY KEY,
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    user_chat_id  BIGINT NOT NULL,
    -- 'user' or 'bot'
    author        TEXT   NOT NULL CHECK (author IN ('user', 'bot')),
    text          TEXT   NOT NULL,
    at            BIGINT NOT NULL
);
CREATE INDEX recap_messages_user ON recap_messages (connection_id, user_chat_id, id);
