UPDATE projection_versions
SET rebuild_version = NULL, rebuild_started_at = NULL, updated_at = now()
WHERE projection = $1
