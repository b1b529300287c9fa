-- Forgets the answers to idempotent commands older than a cutoff.
DELETE FROM idempotency_keys WHERE created_at < $1
