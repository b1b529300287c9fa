INSERT INTO {{products}} (id, business_id, name, description, category, price, currency,
                          available, archived, version, position, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9, $10, $11, $11)
ON CONFLICT (id) DO NOTHING
