-- Writes a batch of order rows, as parallel arrays, in one statement.
INSERT INTO {{orders}} (id, business_id, customer_id, status, fulfillment, payment_method, paid,
    payment_status, address, lines, note, discount, currency, subtotal, delivery_fee,
    discount_amount, total, refunded, placed_day, version, position, created_at, updated_at)
SELECT * FROM unnest(
    $1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::boolean[],
    $8::text[], $9::jsonb[], $10::jsonb[], $11::text[], $12::jsonb[], $13::text[], $14::bigint[],
    $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::date[], $20::bigint[],
    $21::bigint[], $22::timestamptz[], $23::timestamptz[])
ON CONFLICT (id) DO UPDATE SET
    status = excluded.status, paid = excluded.paid, payment_status = excluded.payment_status,
    address = excluded.address, lines = excluded.lines, note = excluded.note,
    discount = excluded.discount, subtotal = excluded.subtotal,
    delivery_fee = excluded.delivery_fee, discount_amount = excluded.discount_amount,
    total = excluded.total, refunded = excluded.refunded, version = excluded.version,
    position = excluded.position, updated_at = excluded.updated_at
