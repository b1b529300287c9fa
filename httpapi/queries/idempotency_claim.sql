-- Claims a key for a request; returns nothing when the key is taken.
INSERT INTO idempotency_keys (principal, key, request_hash)
VALUES ($1, $2, $3)
ON CONFLICT (principal, key) DO NOTHING
RETURNING key
