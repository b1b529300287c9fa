UPDATE projection_versions
SET active_version = $2, schema_hash = $3, rebuild_version = NULL,
    rebuild_started_at = NULL, updated_at = now()
WHERE projection = $1
