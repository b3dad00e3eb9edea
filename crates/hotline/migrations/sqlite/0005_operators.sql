-- Operator modules (issue 5): tags and funnels, quick replies, recent album items, and the
-- cached list of the group's administrators (the default EXTENSIONS_ALLOWED).

-- Tags (`/mark`). `key` is the lower-cased name: names are case-insensitive.
CREATE TABLE tags (
    id            INTEGER PRIMARY KEY,
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    key           TEXT   NOT NULL,
    -- Shown in topic titles after the status square.
    ticker        TEXT,
    -- Key of a quick reply sent to the user when the tag is set.
    sends         TEXT,
    created_at    BIGINT NOT NULL,
    UNIQUE (connection_id, key)
);

-- Funnel stages: setting `tag_id` removes `removes_id` from the contact.
CREATE TABLE tag_removes (
    tag_id     BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    removes_id BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (tag_id, removes_id)
);

-- Contact <-> tag. The primary key serves titles (tags of one contact); the second index
-- serves `/mark NAME` listings, counts and segments (contacts of one tag).
CREATE TABLE contact_tags (
    contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    tag_id     BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (contact_id, tag_id)
);
CREATE INDEX contact_tags_tag ON contact_tags (tag_id, contact_id);

-- Quick replies (`/say`). `items` is a JSON array of sendable items (file_id, text or
-- caption, entities) so a reply survives the deletion of its original; `source_*` point
-- at the original for `/say NAME fwd` and for links in listings.
CREATE TABLE quick_replies (
    id            INTEGER PRIMARY KEY,
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    key           TEXT   NOT NULL,
    items         TEXT   NOT NULL,
    source_chat   BIGINT NOT NULL,
    source_thread BIGINT,
    source_ids    TEXT   NOT NULL,
    created_by    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (connection_id, key)
);

-- Album items seen in the last day (user albums and operators' albums in topics): a
-- reply to one item of an album finds its siblings here. Pruned as it is written.
CREATE TABLE media_items (
    connection_id  BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    chat_id        BIGINT NOT NULL,
    message_id     BIGINT NOT NULL,
    media_group_id TEXT   NOT NULL,
    item           TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (connection_id, chat_id, message_id)
);
CREATE INDEX media_items_group ON media_items (connection_id, media_group_id, message_id);
CREATE INDEX media_items_age ON media_items (created_at);

-- The backend group's administrators, refreshed from getChatAdministrators at start, by a
-- background task and on chat_member updates, so decisions never call Telegram.
CREATE TABLE group_admins (
    connection_id BIGINT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL,
    status        TEXT   NOT NULL,
    refreshed_at  BIGINT NOT NULL,
    PRIMARY KEY (connection_id, user_id)
);
