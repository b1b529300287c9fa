UPDATE payment_inbox
SET acked = true, processed_at = $2, outcome = $3, locked_until = NULL, last_error = NULL
WHERE "offset" = $1
