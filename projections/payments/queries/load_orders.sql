SELECT order_id, business_id, customer_id, status, currency, total, paid_by, paid_amount, refunded,
       charged_back, cancel_refund, checkout_attempts, preference_id, checkout_started_at,
       position, updated_at
FROM {{payment_orders}}
WHERE order_id = ANY($1::uuid[])
