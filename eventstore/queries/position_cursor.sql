-- The transaction id that recorded the event at a position.
SELECT transaction_id::text::bigint FROM events WHERE global_position = $1
