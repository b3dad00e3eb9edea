-- Due queue heads are fetched per lane in due order; this index lets that walk stop at
-- its LIMIT instead of reading and sorting every due intent (large broadcasts).
CREATE INDEX outbox_lane_due ON outbox (connection_id, state, lane, next_attempt_at);
