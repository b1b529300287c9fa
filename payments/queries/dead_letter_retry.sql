-- Puts a dead letter back in the queue, due now, with its attempts reset.
UPDATE payment_inbox
SET dead_at = NULL, attempts = 0, next_attempt_at = $2, locked_until = NULL
WHERE "offset" = $1 AND dead_at IS NOT NULL
RETURNING "offset", payment_id, action, notification_id, attempts, last_error, created_at, dead_at
