-- The account that signs in with this email, and its password hash.
SELECT id, email, name, role, business_id, created_at, disabled, password_hash
FROM accounts
WHERE lower(email) = lower($1)
