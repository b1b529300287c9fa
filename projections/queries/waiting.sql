-- How many events after a consumer group's checkpoint, up to a limit: the
-- projector only needs to know whether a batch would pay off.
SELECT count(*)
FROM (
    SELECT 1
    FROM events e, projection_offsets o
    WHERE o.consumer_group = $1
      AND (e.transaction_id, e.global_position) > (o.last_processed_transaction_id, o.offset_acked)
    LIMIT $2
) AS waiting
