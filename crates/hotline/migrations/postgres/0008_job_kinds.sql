-- Export and stats jobs got their own intent kinds (PostgreSQL flavour of the SQLite
-- migration: the same rewrite of pending intents, with jsonb instead of json1).
UPDATE outbox
SET action = jsonb_build_object(
        'do', 'export',
        'segment', action::jsonb #> '{op,segment}',
        'reply_to', action::jsonb #> '{op,reply_to}')::text
WHERE state IN ('pending', 'in_flight')
  AND action::jsonb #>> '{do}' = 'broadcast'
  AND action::jsonb #>> '{op,op}' = 'export';

UPDATE outbox
SET action = jsonb_build_object(
        'do', 'stats',
        'from', action::jsonb #> '{op,from}',
        'to', action::jsonb #> '{op,to}',
        'label', action::jsonb #> '{op,label}',
        'reply_to', action::jsonb #> '{op,reply_to}')::text
WHERE state IN ('pending', 'in_flight')
  AND action::jsonb #>> '{do}' = 'broadcast'
  AND action::jsonb #>> '{op,op}' = 'stats';
