-- Claims the next due notification for one attempt. The lease ($2) keeps
-- other workers off it; when a worker dies mid-attempt, the row is due again
-- once the lease has passed. SKIP LOCKED lets workers of several engines
-- claim different rows at the same time.
UPDATE payment_inbox
SET attempts = attempts + 1, locked_until = $2
WHERE "offset" = (
    SELECT "offset"
    FROM payment_inbox
    WHERE NOT acked AND dead_at IS NULL AND next_attempt_at <= $1
      AND (locked_until IS NULL OR locked_until <= $1)
    ORDER BY next_attempt_at, "offset"
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING "offset", payment_id, action, notification_id, attempts
