INSERT INTO projection_versions (projection, active_version, schema_hash)
VALUES ($1, 1, $2)
ON CONFLICT (projection) DO NOTHING
