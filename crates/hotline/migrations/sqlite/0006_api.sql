-- REST API and outgoing webhooks (issue 7; see src/api and docs/api.md).

-- Bearer API keys, per connection. Only the SHA-256 of a key is stored: the key itself is
-- shown once when created. `prefix` (the key's first characters) tells keys apart in lists.
CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY,
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    prefix        TEXT   NOT NULL,
    hash          TEXT   NOT NULL UNIQUE,
    created_by    TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_keys_connection ON api_keys (connection_id, id);

-- What was said in a dialog, for the API's history (message_links keep only ids). One row
-- per message either way; written in the transaction that decided about the message.
CREATE TABLE dialog_messages (
    id               INTEGER PRIMARY KEY,
    connection_id    BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    dialog_id        BIGINT NOT NULL REFERENCES dialogs(id) ON DELETE CASCADE,
    direction        TEXT   NOT NULL CHECK (direction IN ('incoming', 'outgoing', 'intercepted', 'api')),
    kind             TEXT   NOT NULL,
    text             TEXT,
    user_message_id  BIGINT,
    group_message_id BIGINT,
    author_id        BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX dialog_messages_dialog ON dialog_messages (dialog_id, id);
CREATE INDEX dialog_messages_group ON dialog_messages (connection_id, group_message_id)
    WHERE group_message_id IS NOT NULL;

-- Outgoing webhook deliveries: a durable queue of its own, so a slow receiver never holds
-- up Telegram traffic. One row per (event, URL); ordered per (URL, ordering_key = dialog).
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    connection_id   BIGINT  NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    url             TEXT    NOT NULL,
    event           TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    ordering_key    BIGINT  NOT NULL DEFAULT 0,
    body            TEXT    NOT NULL,
    -- Custom commands: where to post the receiver's answer (JSON), else NULL.
    reply           TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX webhook_due ON webhook_deliveries (connection_id, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_queue ON webhook_deliveries (connection_id, url, ordering_key, id)
    WHERE state = 'pending';

-- Files uploaded through the API, kept until the send intent has used them.
CREATE TABLE api_uploads (
    id            INTEGER PRIMARY KEY,
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    file_name     TEXT   NOT NULL,
    mime          TEXT,
    data          BLOB   NOT NULL,
    created_at    BIGINT NOT NULL
);
