SELECT id, email, name, role, business_id, created_at, disabled
FROM accounts
WHERE id = $1
