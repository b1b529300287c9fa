UPDATE {{businesses}}
SET name = coalesce($2, name),
    delivery_fee = coalesce($3, delivery_fee),
    open = coalesce($4, open),
    timezone = coalesce($5, timezone),
    hours = coalesce($6, hours),
    version = $7, position = $8, updated_at = $9
WHERE id = $1
