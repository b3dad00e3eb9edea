-- Album parts waiting to be copied as one album. The first part of an album enqueues a
-- delayed copy intent (`batch`); later parts join that batch until it runs (sealed).
CREATE TABLE album_parts (
    connection_id  BIGINT  NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    media_group_id TEXT    NOT NULL,
    batch          BIGINT  NOT NULL,
    chat_id        BIGINT  NOT NULL,
    message_id     BIGINT  NOT NULL,
    sealed         BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (connection_id, media_group_id, message_id)
);
CREATE INDEX album_parts_batch ON album_parts (connection_id, batch);
