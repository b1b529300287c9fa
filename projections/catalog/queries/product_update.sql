UPDATE {{products}}
SET name = coalesce($2, name),
    description = coalesce($3, description),
    category = coalesce($4, category),
    price = coalesce($5, price),
    available = coalesce($6, available),
    archived = coalesce($7, archived),
    image_path = coalesce($8, image_path),
    image_content_type = coalesce($9, image_content_type),
    version = $10, position = $11, updated_at = $12
WHERE id = $1
