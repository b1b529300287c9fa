-- Publishes one notification into the inbox: the watermill queue columns,
-- then the deduplication keys and the time it becomes due.
INSERT INTO payment_inbox (uuid, payload, metadata, payment_id, action, notification_id,
    request_id, created_at, next_attempt_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
