DELETE FROM projection_tables WHERE projection = $1 AND table_name = $2
