// Package scripts holds no Go code: it is the home of the operations scripts next to this
// file and of the tests that run them against real PostgreSQL servers, a local S3-compatible
// server, a webhook receiver and an SMTP receiver.
//
//   - backup.sh dumps the database and archives the uploads directory, verifies both (and,
//     on request, restores the dump into a scratch database), copies them to S3-compatible
//     storage, deletes old backups under a lock and reports by webhook and email.
//   - restore.sh restores such a backup, whole, database or uploads only, or only the
//     events with every projection rebuilt, after checking its checksum and taking a safety
//     backup; it renumbers the restored events' transaction ids so projectors keep working
//     on a new cluster.
//   - check_backup_status.sh reports the age, size and checksum state of the newest backups
//     and writes them as a Prometheus textfile, which the engine re-exports.
//   - pgbench_ceiling.sh measures the raw insert and read ceiling of event-shaped rows.
//   - bench.sh runs the Go benchmarks and that ceiling on one durable server and prints
//     each figure as a ratio to its ceiling; loadtest.sh drives the HTTP API with vegeta
//     beside a pgbench ceiling and a bare Echo handler.
//   - test.sh is the whole test suite; deploy_staging.sh deploys the staging stack.
//
// The scripts share functions in lib/, and the programs they and their tests need are
// installed by the idempotent steps in setup.d/. Nothing here is imported by the engine.
package scripts
