-- The token with this hash and the account it was issued to; the token's row
-- stays locked until the transaction ends.
SELECT t.id, t.family_id, t.expires_at, t.used_at, t.revoked_at,
       a.id, a.email, a.name, a.role, a.business_id, a.created_at, a.disabled
FROM refresh_tokens AS t
JOIN accounts AS a ON a.id = t.account_id
WHERE t.token_hash = $1
FOR UPDATE OF t
