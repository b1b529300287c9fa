INSERT INTO {{payments}} (payment_id, order_id, business_id, customer_id, status, status_detail,
    currency, amount, refunded, paid_order, review, expected_amount, expected_currency,
    first_position, position, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
ON CONFLICT (payment_id) DO UPDATE SET
    status = excluded.status, status_detail = excluded.status_detail,
    currency = excluded.currency, amount = excluded.amount, refunded = excluded.refunded,
    paid_order = excluded.paid_order, review = excluded.review,
    expected_amount = excluded.expected_amount, expected_currency = excluded.expected_currency,
    position = excluded.position, updated_at = excluded.updated_at
