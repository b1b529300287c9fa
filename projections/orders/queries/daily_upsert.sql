INSERT INTO {{daily_sales}} AS d (business_id, day, currency, orders, completed, cancellations, revenue)
SELECT * FROM unnest($1::uuid[], $2::date[], $3::text[], $4::bigint[], $5::bigint[],
                     $6::bigint[], $7::bigint[])
ON CONFLICT (business_id, day) DO UPDATE SET
    orders = d.orders + excluded.orders,
    completed = d.completed + excluded.completed,
    cancellations = d.cancellations + excluded.cancellations,
    revenue = d.revenue + excluded.revenue
