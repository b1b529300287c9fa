-- Deletes the families whose every token expired before $1: none of their
-- tokens can be refreshed any more, so nothing is lost but history.
DELETE FROM refresh_tokens
WHERE family_id IN (
    SELECT family_id
    FROM refresh_tokens
    GROUP BY family_id
    HAVING max(expires_at) < $1
)
