UPDATE payment_inbox
SET dead_at = $2, last_error = $3, locked_until = NULL
WHERE "offset" = $1
