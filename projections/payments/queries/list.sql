-- Payments newest first, before a first_position cursor, with optional filters.
SELECT payment_id, order_id, business_id, customer_id, status, status_detail, currency, amount,
       refunded, paid_order, review, expected_amount, expected_currency, first_position,
       position, created_at, updated_at
FROM payments
WHERE ($1::bigint IS NULL OR first_position < $1)
  AND ($2::uuid IS NULL OR order_id = $2)
  AND ($3::uuid IS NULL OR business_id = $3)
  AND ($4::uuid IS NULL OR customer_id = $4)
  AND ($5::text IS NULL OR status = $5)
  AND (NOT $6::boolean OR review IS NOT NULL)
ORDER BY first_position DESC
LIMIT $7
