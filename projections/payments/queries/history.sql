SELECT status, status_detail, amount, currency, refunded, position, recorded_at
FROM payment_history
WHERE payment_id = $1
ORDER BY position
