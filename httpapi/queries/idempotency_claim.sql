-- Claims a key for a request; returns nothing when the key is taken. A claim
-- left without an answer for a minute (its request died) is taken over: the
-- retry runs the command again, and the event ids derived from the key make
-- its append store nothing twice.
INSERT INTO idempotency_keys (principal, key, request_hash)
VALUES ($1, $2, $3)
ON CONFLICT (principal, key) DO UPDATE
SET created_at = now()
WHERE idempotency_keys.status IS NULL
  AND idempotency_keys.request_hash = excluded.request_hash
  AND idempotency_keys.created_at < now() - interval '1 minute'
RETURNING key
