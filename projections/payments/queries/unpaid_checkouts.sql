-- Orders with a MercadoPago checkout started between $2 and $1 that are
-- neither paid nor cancelled: their payment news may have been missed.
SELECT order_id
FROM payment_orders
WHERE paid_by IS NULL AND status <> 'cancelled'
  AND checkout_started_at < $1 AND checkout_started_at >= $2
ORDER BY checkout_started_at
LIMIT $3
