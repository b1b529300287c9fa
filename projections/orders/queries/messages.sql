SELECT message_id, order_id, author_id, author_role, text, metadata, position, created_at
FROM order_messages
WHERE order_id = $1 AND position > $2
ORDER BY position
LIMIT $3
