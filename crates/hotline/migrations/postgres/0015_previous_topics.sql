-- Topics that broke while they exist: Telegram answers "message thread not found" to the
-- bot's sends although people still see and use the topic. The dialog moves to a new topic;
-- the old thread id stays here so what operators still write there reaches the user.
CREATE TABLE previous_topics (
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    thread_id     BIGINT NOT NULL,
    dialog_id     BIGINT NOT NULL REFERENCES dialogs(id) ON DELETE CASCADE,
    replaced_at   BIGINT NOT NULL,
    PRIMARY KEY (connection_id, thread_id)
);
CREATE INDEX previous_topics_dialog ON previous_topics (dialog_id);
