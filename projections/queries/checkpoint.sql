-- A consumer group's committed checkpoint; no row means it has not started.
SELECT offset_acked, last_processed_transaction_id::text::bigint
FROM projection_offsets
WHERE consumer_group = $1
