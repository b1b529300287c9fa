-- A business's products that are not archived, oldest first, after a
-- (created_at, id) cursor, optionally by category and availability.
SELECT id, business_id, name, description, category, price, currency, available, archived,
       image_path, image_content_type, version, position, created_at, updated_at
FROM products
WHERE business_id = $1
  AND NOT archived
  AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
  AND ($4::text IS NULL OR category = $4)
  AND ($5::boolean IS NULL OR available = $5)
ORDER BY created_at, id
LIMIT $6
