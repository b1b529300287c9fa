// Package deploy holds the staging deployment of the order engine as files,
// not code: the Prometheus configuration and alerting rules, the Grafana
// provisioning and dashboard, and the example settings that
// docker-compose.staging.yml and scripts/deploy_staging.sh read.
//
// The package's tests check those files with the real tools (promtool,
// prometheus, docker compose, shellcheck) and check that every metric a
// dashboard or alert queries is one the engine exports. It is not imported by
// the engine and has no API.
package deploy
