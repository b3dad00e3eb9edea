-- Satisfaction ratings (RATING on): one row per rating request, sent to the user when an
-- operator closes the dialog. `operator_id` is who closed it (NULL: the API); `score`
-- (1-5) is set when the user presses a button, and may be changed by pressing again.
CREATE TABLE dialog_ratings (
    id            INTEGER PRIMARY KEY,
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    dialog_id     BIGINT NOT NULL REFERENCES dialogs(id) ON DELETE CASCADE,
    operator_id   BIGINT,
    asked_at      BIGINT NOT NULL,
    score         INTEGER CHECK (score BETWEEN 1 AND 5),
    rated_at      BIGINT
);
CREATE INDEX dialog_ratings_time ON dialog_ratings (connection_id, rated_at);
CREATE INDEX dialog_ratings_dialog ON dialog_ratings (dialog_id, id);
