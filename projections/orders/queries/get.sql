SELECT id, business_id, customer_id, status, fulfillment, payment_method, paid, payment_status,
       address, lines, note, discount, currency, subtotal, delivery_fee, discount_amount, total,
       refunded, placed_day, version, position, created_at, updated_at
FROM orders
WHERE id = $1
