SELECT id, business_id, name, price, currency, available AND NOT archived
FROM products
WHERE id = ANY($1::uuid[])
