UPDATE idempotency_keys
SET status = $3, headers = $4, body = $5
WHERE principal = $1 AND key = $2
