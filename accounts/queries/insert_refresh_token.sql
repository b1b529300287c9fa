-- Adds a refresh token; a family's first token passes its own id as family_id.
INSERT INTO refresh_tokens (id, family_id, account_id, token_hash, expires_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
