SELECT request_hash, status, headers, body
FROM idempotency_keys
WHERE principal = $1 AND key = $2
