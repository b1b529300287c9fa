-- Dead letters newest first, before an offset cursor.
SELECT "offset", payment_id, action, notification_id, attempts, last_error, created_at, dead_at
FROM payment_inbox
WHERE dead_at IS NOT NULL AND ($1::bigint IS NULL OR "offset" < $1)
ORDER BY "offset" DESC
LIMIT $2
