UPDATE refresh_tokens
SET used_at = $2, replaced_by = $3
WHERE id = $1
