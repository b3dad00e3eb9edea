-- Connections added through the setup bot (issue 18, docs/setup-bot.md), kept apart from the
-- `connections` table (which every connection, from the file or not, has a row in). The bot
-- token is sealed with ChaCha20-Poly1305 under the instance's secret key: `token_sealed` is
-- hex of nonce || ciphertext; the name is authenticated with it, so a sealed token copied to
-- another row does not open. Parameters changed through the setup bot are stored where /set
-- stores them (the connection's parameter overrides), so both see the same values.
CREATE TABLE managed_connections (
    name         TEXT PRIMARY KEY,
    bot_id       BIGINT NOT NULL UNIQUE,
    bot_username TEXT NOT NULL,
    token_sealed TEXT NOT NULL,
    group_id     BIGINT,
    paused       BOOLEAN NOT NULL DEFAULT FALSE,
    created_by   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Where each owner's conversation with the setup bot stands (a serialized state), so a
-- restart in the middle of /connect resumes where the owner was.
CREATE TABLE setup_conversations (
    owner_id   BIGINT PRIMARY KEY,
    state      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
