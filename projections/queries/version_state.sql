-- The version serving reads and the one a rebuild is filling, if any.
SELECT active_version, rebuild_version
FROM projection_versions
WHERE projection = $1
