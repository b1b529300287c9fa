-- Creates a consumer group's checkpoint at the start of the log.
INSERT INTO projection_offsets (consumer_group, offset_acked, last_processed_transaction_id)
VALUES ($1, 0, '0')
ON CONFLICT (consumer_group) DO NOTHING
