-- Adds an account. A second account with the same email violates
-- accounts_email_key.
INSERT INTO accounts (id, email, name, role, business_id, password_hash, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
