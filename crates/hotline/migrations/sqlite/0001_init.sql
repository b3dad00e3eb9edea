-- Hotline schema, SQLite flavour. Kept close to portable SQL (BIGINT, BOOLEAN, TEXT,
-- ON CONFLICT, partial indexes) so a PostgreSQL migration set can mirror it.
-- All times are Unix milliseconds (BIGINT).

CREATE TABLE connections (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);

-- Parameters changed at runtime (/set, API); they override the config file.
CREATE TABLE connection_params (
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    value         TEXT   NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (connection_id, name)
);

-- Small per-connection state (polling offset, audit marks, ...).
CREATE TABLE kv (
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    key           TEXT   NOT NULL,
    value         TEXT   NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (connection_id, key)
);

CREATE TABLE contacts (
    id              INTEGER PRIMARY KEY,
    connection_id   BIGINT  NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    user_id         BIGINT  NOT NULL,
    first_name      TEXT    NOT NULL DEFAULT '',
    last_name       TEXT,
    username        TEXT,
    language_code   TEXT,
    first_seen_at   BIGINT  NOT NULL,
    last_message_at BIGINT,
    start_param     TEXT,
    banned          BOOLEAN NOT NULL DEFAULT FALSE,
    blocked         BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (connection_id, user_id)
);
-- `/new @username`: usernames are stored lower-cased.
CREATE INDEX contacts_username ON contacts (connection_id, username);

CREATE TABLE dialogs (
    id               INTEGER PRIMARY KEY,
    connection_id    BIGINT  NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    contact_id       BIGINT  NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    -- NULL until the topic is created (or after it was found deleted).
    thread_id        BIGINT,
    status           TEXT    NOT NULL CHECK (status IN ('new', 'wait', 'closed')),
    status_since     BIGINT  NOT NULL,
    activated        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT  NOT NULL,
    last_activity_at BIGINT  NOT NULL,
    -- One topic per contact, whatever the concurrency.
    UNIQUE (connection_id, contact_id)
);
-- Operator message in a topic -> dialog. NULLs are distinct, so unset topics do not clash.
CREATE UNIQUE INDEX dialogs_thread ON dialogs (connection_id, thread_id);
-- Auto-close scan: dialogs in 'wait' since before a deadline.
CREATE INDEX dialogs_status ON dialogs (connection_id, status, status_since);

-- user chat message <-> group (topic) message.
CREATE TABLE message_links (
    id               INTEGER PRIMARY KEY,
    connection_id    BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    dialog_id        BIGINT NOT NULL REFERENCES dialogs(id) ON DELETE CASCADE,
    user_chat_id     BIGINT NOT NULL,
    user_message_id  BIGINT NOT NULL,
    group_chat_id    BIGINT NOT NULL,
    group_message_id BIGINT NOT NULL,
    direction        TEXT   NOT NULL CHECK (direction IN ('incoming', 'outgoing', 'intercepted')),
    kind             TEXT   NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX links_user  ON message_links (connection_id, user_chat_id, user_message_id);
CREATE INDEX links_group ON message_links (connection_id, group_chat_id, group_message_id);
CREATE INDEX links_dialog ON message_links (dialog_id, id);

-- Durable intake: stored before Telegram is told the update was received.
CREATE TABLE updates (
    id            INTEGER PRIMARY KEY,
    connection_id BIGINT  NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    update_id     BIGINT  NOT NULL,
    payload       TEXT    NOT NULL,
    received_at   BIGINT  NOT NULL,
    processed     BOOLEAN NOT NULL DEFAULT FALSE,
    processed_at  BIGINT,
    UNIQUE (connection_id, update_id)
);
CREATE INDEX updates_pending ON updates (connection_id, update_id) WHERE processed = FALSE;

-- Durable delivery queue (see src/outbox).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    connection_id   BIGINT   NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    lane            SMALLINT NOT NULL,
    target_chat     BIGINT   NOT NULL,
    fairness_key    BIGINT   NOT NULL DEFAULT 0,
    action          TEXT     NOT NULL,
    state           TEXT     NOT NULL CHECK (state IN ('pending', 'in_flight', 'done', 'failed')),
    attempts        INTEGER  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT   NOT NULL,
    last_error      TEXT,
    created_at      BIGINT   NOT NULL,
    updated_at      BIGINT   NOT NULL
);
-- Due work and the next wake-up time.
CREATE INDEX outbox_due ON outbox (connection_id, state, next_attempt_at);
-- Per-queue order: "is there an older active intent for this (chat, fairness key)?"
CREATE INDEX outbox_queue ON outbox (connection_id, target_chat, fairness_key, id)
    WHERE state IN ('pending', 'in_flight');
