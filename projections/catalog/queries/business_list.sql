-- Businesses, newest first, after a (created_at, id) cursor; $4 filters by
-- owner when not null.
SELECT id, owner_id, name, currency, delivery_fee, open, timezone, hours, version, position,
       created_at, updated_at
FROM businesses
WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2::uuid))
  AND ($4::uuid IS NULL OR owner_id = $4)
ORDER BY created_at DESC, id DESC
LIMIT $3
