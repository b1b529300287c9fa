INSERT INTO {{businesses}} (id, owner_id, name, currency, delivery_fee, open, timezone, hours,
                            version, position, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
ON CONFLICT (id) DO NOTHING
