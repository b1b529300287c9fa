-- Orders newest first after a (created_at, id) cursor, with optional filters.
SELECT id, business_id, customer_id, status, fulfillment, payment_method, paid, payment_status,
       address, lines, note, discount, currency, subtotal, delivery_fee, discount_amount, total,
       refunded, placed_day, version, position, created_at, updated_at
FROM orders
WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2::uuid))
  AND ($3::uuid IS NULL OR business_id = $3)
  AND ($4::uuid IS NULL OR customer_id = $4)
  AND ($5::text IS NULL OR status = $5)
  AND ($6::timestamptz IS NULL OR created_at >= $6)
  AND ($7::timestamptz IS NULL OR created_at < $7)
ORDER BY created_at DESC, id DESC
LIMIT $8
