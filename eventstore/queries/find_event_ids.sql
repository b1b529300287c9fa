-- The stored positions of events with the given ids, used to answer a
-- retried append with the positions of the original one.
SELECT event_id, global_position, stream_version, stream_id
FROM events
WHERE event_id = ANY($1::uuid[])
ORDER BY global_position
