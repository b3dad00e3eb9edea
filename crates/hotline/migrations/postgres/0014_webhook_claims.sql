-- Outgoing webhook deliveries are claimed rows, like the outbox's intents: a worker takes
-- a due queue head by writing a fresh claim token and how long the claim holds; only the
-- holder of the token records the outcome. A claim whose holder died (or hangs) expires,
-- and the delivery is claimed again.
ALTER TABLE webhook_deliveries ADD COLUMN claim_token TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN claimed_until BIGINT;
