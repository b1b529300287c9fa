INSERT INTO {{payment_orders}} (order_id, business_id, customer_id, status, currency, total,
    paid_by, paid_amount, refunded, charged_back, cancel_refund, checkout_attempts,
    preference_id, checkout_started_at, position, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (order_id) DO UPDATE SET
    status = excluded.status, total = excluded.total, paid_by = excluded.paid_by,
    paid_amount = excluded.paid_amount, refunded = excluded.refunded,
    charged_back = excluded.charged_back, cancel_refund = excluded.cancel_refund,
    checkout_attempts = excluded.checkout_attempts, preference_id = excluded.preference_id,
    checkout_started_at = excluded.checkout_started_at, position = excluded.position,
    updated_at = excluded.updated_at
