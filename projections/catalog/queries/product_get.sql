SELECT id, business_id, name, description, category, price, currency, available, archived,
       image_path, image_content_type, version, position, created_at, updated_at
FROM products
WHERE id = $1
