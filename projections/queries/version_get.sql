SELECT active_version, schema_hash, rebuild_version
FROM projection_versions
WHERE projection = $1
