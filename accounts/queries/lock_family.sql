-- Locks the first token of the family that the token with this hash belongs
-- to. Every change to a family happens under this lock, so a revocation cannot
-- miss a token that a concurrent rotation is adding.
SELECT root.id
FROM refresh_tokens AS t
JOIN refresh_tokens AS root ON root.id = t.family_id
WHERE t.token_hash = $1
FOR UPDATE OF root
