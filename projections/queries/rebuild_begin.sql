UPDATE projection_versions
SET rebuild_version = $2, rebuild_started_at = now(), updated_at = now()
WHERE projection = $1
