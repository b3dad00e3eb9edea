-- Isolation (issue 12): an update whose processing fails (a panic, an error caused by the
-- update itself) is retried with backoff; after a bounded number of attempts it becomes a
-- dead letter (dead_at set): skipped, announced in General, listed and re-queued by
-- `hotline dead-letters`. Intents and webhook deliveries already have their 'failed' state.
ALTER TABLE updates ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE updates ADD COLUMN last_error TEXT;
ALTER TABLE updates ADD COLUMN retry_at BIGINT;
ALTER TABLE updates ADD COLUMN dead_at BIGINT;
DROP INDEX updates_pending;
CREATE INDEX updates_pending ON updates (connection_id, update_id)
    WHERE processed = FALSE AND dead_at IS NULL;
CREATE INDEX updates_dead ON updates (connection_id, dead_at) WHERE dead_at IS NOT NULL;
