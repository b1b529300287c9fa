INSERT INTO {{order_messages}} (message_id, order_id, author_id, author_role, text, metadata,
                                position, created_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::jsonb[],
                     $7::bigint[], $8::timestamptz[])
ON CONFLICT (message_id) DO NOTHING
