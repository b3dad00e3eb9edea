-- Ownership (issue 17): the operator who handles a dialog (`/take`, `/assign`, the API),
-- when the team was last reminded of a dialog waiting for it (REMIND_AFTER: once per
-- waiting period: `reminded_at` is the `status_since` of the period reminded of), and the names of the team's
-- members as they last wrote, so `/stats`, cards and titles name people instead of ids.
ALTER TABLE dialogs ADD COLUMN assignee BIGINT;
ALTER TABLE dialogs ADD COLUMN reminded_at BIGINT;
CREATE INDEX dialogs_assignee ON dialogs (connection_id, assignee);

CREATE TABLE operators (
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL,
    -- First (and last) name as Telegram gave it.
    name          TEXT   NOT NULL,
    -- Lower-cased username without `@`, for `/assign @username`.
    username      TEXT,
    seen_at       BIGINT NOT NULL,
    PRIMARY KEY (connection_id, user_id)
);
CREATE INDEX operators_username ON operators (connection_id, username);
