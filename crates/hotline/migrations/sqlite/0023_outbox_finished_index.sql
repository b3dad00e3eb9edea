-- A starting outbox worker seeds its rate windows with the intents finished in the last
-- minute (Telegram still counts them; issue 14): this index lets that query read just those
-- instead of every finished intent ever kept. Partial: pending and in-flight rows, which
-- change most often, are not in it.
CREATE INDEX outbox_finished ON outbox (connection_id, updated_at)
    WHERE state IN ('done', 'failed');
