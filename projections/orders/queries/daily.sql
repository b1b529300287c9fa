SELECT day, currency, orders, completed, cancellations, revenue
FROM daily_sales
WHERE business_id = $1 AND day >= $2 AND day <= $3
ORDER BY day
