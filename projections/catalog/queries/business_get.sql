SELECT id, owner_id, name, currency, delivery_fee, open, timezone, hours, version, position,
       created_at, updated_at
FROM businesses
WHERE id = $1
