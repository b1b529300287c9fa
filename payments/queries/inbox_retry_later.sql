UPDATE payment_inbox
SET next_attempt_at = $2, last_error = $3, locked_until = NULL
WHERE "offset" = $1
