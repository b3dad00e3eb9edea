-- The spam gate (NEW_TOPICS_PER_HOUR, issue 16): new topics per hour per connection are
-- capped; a new contact over the cap waits for /admit (or the next hour's budget) instead
-- of getting a topic. Admissions of the last hour are counted from `gate_admissions`.
CREATE TABLE gate_admissions (
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    dialog_id     BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    PRIMARY KEY (connection_id, dialog_id)
);
CREATE INDEX gate_admissions_at ON gate_admissions (connection_id, at);
-- The waiting contacts' dialogs, oldest first, and the messages kept for their topic.
CREATE TABLE gate_waiting (
    dialog_id     BIGINT PRIMARY KEY REFERENCES dialogs(id) ON DELETE CASCADE,
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    since         BIGINT NOT NULL
);
CREATE INDEX gate_waiting_since ON gate_waiting (connection_id, since, dialog_id);
CREATE TABLE gate_messages (
    dialog_id  BIGINT NOT NULL REFERENCES gate_waiting(dialog_id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL,
    -- The message as Telegram sent it (JSON): replayed on admission, so masking and
    -- HIDE_INFO apply as they would have.
    message    TEXT   NOT NULL,
    PRIMARY KEY (dialog_id, message_id)
);
