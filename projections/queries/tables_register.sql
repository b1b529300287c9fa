INSERT INTO projection_tables (projection, table_name)
VALUES ($1, $2)
ON CONFLICT DO NOTHING
