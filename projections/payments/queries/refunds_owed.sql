-- Cancelled orders paid through MercadoPago whose full refund has not been
-- accepted yet.
SELECT order_id
FROM payment_orders
WHERE status = 'cancelled' AND paid_by IS NOT NULL AND NOT charged_back AND NOT cancel_refund
  AND refunded < paid_amount
ORDER BY updated_at
LIMIT $1
