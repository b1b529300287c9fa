-- Revokes every token of the family that is not revoked yet.
UPDATE refresh_tokens
SET revoked_at = $2
WHERE family_id = $1 AND revoked_at IS NULL
