INSERT INTO {{payment_history}} (payment_id, position, status, status_detail, amount, currency,
    refunded, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (payment_id, position) DO NOTHING
