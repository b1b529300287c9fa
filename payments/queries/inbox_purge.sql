-- Forgets processed notifications older than the retention period.
DELETE FROM payment_inbox WHERE acked AND processed_at < $1
