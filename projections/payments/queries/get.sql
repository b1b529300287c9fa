SELECT payment_id, order_id, business_id, customer_id, status, status_detail, currency, amount,
       refunded, paid_order, review, expected_amount, expected_currency, first_position,
       position, created_at, updated_at
FROM payments
WHERE payment_id = $1
