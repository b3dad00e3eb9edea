-- Exports and analytics became outbox actions of their own (they were broadcast ops):
-- intents queued before the upgrade are rewritten so their executors find them.
UPDATE outbox
SET action = json_object(
        'do', 'export',
        'segment', json_extract(action, '$.op.segment'),
        'reply_to', json_extract(action, '$.op.reply_to'))
WHERE state IN ('pending', 'in_flight')
  AND json_extract(action, '$.do') = 'broadcast'
  AND json_extract(action, '$.op.op') = 'export';

UPDATE outbox
SET action = json_object(
        'do', 'stats',
        'from', json_extract(action, '$.op.from'),
        'to', json_extract(action, '$.op.to'),
        'label', json_extract(action, '$.op.label'),
        'reply_to', json_extract(action, '$.op.reply_to'))
WHERE state IN ('pending', 'in_flight')
  AND json_extract(action, '$.do') = 'broadcast'
  AND json_extract(action, '$.op.op') = 'stats';
