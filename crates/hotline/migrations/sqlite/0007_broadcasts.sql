-- Broadcasts, export and team analytics (issue 6; see src/broadcast, src/stats).

-- A broadcast: what to copy (messages in General) to whom (a segment or a list), when.
-- state: draft (waiting for Confirm) → scheduled/running ⇄ paused → done | cancelled.
CREATE TABLE broadcasts (
    id             INTEGER PRIMARY KEY,
    connection_id  BIGINT  NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    state          TEXT    NOT NULL CHECK (state IN ('draft', 'scheduled', 'running', 'paused', 'done', 'cancelled')),
    -- How recipients were chosen, as typed (`all`, a segment, `test`, `list`).
    audience       TEXT    NOT NULL,
    -- Message ids in the group (General) copied to each recipient, as a JSON array.
    source_ids     TEXT    NOT NULL,
    created_by     BIGINT  NOT NULL,
    -- allow_paid_broadcast on every copy.
    paid           BOOLEAN NOT NULL DEFAULT FALSE,
    start_at       BIGINT  NOT NULL,
    -- The confirmation / progress message in General (edited as the broadcast runs).
    control_message BIGINT,
    total          BIGINT  NOT NULL DEFAULT 0,
    created_at     BIGINT  NOT NULL,
    started_at     BIGINT,
    finished_at    BIGINT,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX broadcasts_active ON broadcasts (connection_id, state, start_at);

-- One row per recipient, with its own state, so a restart resumes exactly where it stopped:
-- pending → queued (an outbox intent exists) → sent | failed | blocked; skipped (blocked or
-- banned before the start); cancelled.
CREATE TABLE broadcast_recipients (
    broadcast_id BIGINT NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
    seq          BIGINT NOT NULL,
    user_id      BIGINT NOT NULL,
    contact_id   BIGINT,
    state        TEXT   NOT NULL CHECK (state IN ('pending', 'queued', 'sent', 'failed', 'blocked', 'skipped', 'cancelled')),
    error        TEXT,
    sent_at      BIGINT,
    PRIMARY KEY (broadcast_id, seq),
    UNIQUE (broadcast_id, user_id)
);
CREATE INDEX broadcast_recipients_state ON broadcast_recipients (broadcast_id, state, seq);

-- Recent non-command messages in General, so `/send` as a reply can take an album or a
-- chain of the author's messages. Pruned as it is written (two days).
CREATE TABLE general_messages (
    connection_id  BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    message_id     BIGINT NOT NULL,
    author_id      BIGINT NOT NULL,
    media_group_id TEXT,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (connection_id, message_id)
);
CREATE INDEX general_messages_age ON general_messages (created_at);

-- What happened in dialogs, for /stats: written in the decision's transaction.
-- kind: created, reopened, closed (dialog events); in, out, intercepted (messages;
-- operator_id on `out`).
CREATE TABLE dialog_events (
    id            INTEGER PRIMARY KEY,
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    dialog_id     BIGINT NOT NULL REFERENCES dialogs(id) ON DELETE CASCADE,
    kind          TEXT   NOT NULL CHECK (kind IN ('created', 'reopened', 'closed', 'in', 'out', 'intercepted')),
    operator_id   BIGINT,
    at            BIGINT NOT NULL
);
CREATE INDEX dialog_events_time ON dialog_events (connection_id, at);
CREATE INDEX dialog_events_dialog ON dialog_events (dialog_id, at);
