#!/usr/bin/env bash
# Measures the event store and projections against this machine's raw
# PostgreSQL ceiling, both on one freshly started server with normal
# durability, and prints each figure as a ratio to its ceiling.
#
# Usage: scripts/bench.sh [--seconds N] [--rebuild-events N] [--out FILE]
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=10
rebuild_events=1000000
out=bench-results.md
while (($# > 0)); do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--rebuild-events) rebuild_events=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,6p' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

work=$(mktemp -d /tmp/comanda-bench-XXXXXX)
chmod 711 "$work"
engine_pid=""
cleanup() {
	if [[ -n $engine_pid ]]; then
		kill -TERM "$engine_pid" 2>/dev/null || true
		wait "$engine_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "building the engine"
go build -o "$work/engine" ./cmd/engine
DATA_DIR=$work/data "$work/engine" database serve >"$work/db.out" 2>"$work/db.log" &
engine_pid=$!
for _ in $(seq 1 150); do
	grep -q '^DATABASE_URL=' "$work/db.out" 2>/dev/null && break
	sleep 0.1
done
url=$(sed -n 's/^DATABASE_URL=//p' "$work/db.out")
if [[ -z $url ]]; then
	echo "bench.sh: the database did not start:" >&2
	cat "$work/db.log" >&2
	exit 1
fi

echo "measuring the pgbench ceiling ($seconds s per run)"
DATABASE_URL=$url scripts/pgbench_ceiling.sh --seconds "$seconds" --out "$work/ceiling.env"
# shellcheck disable=SC1091
source "$work/ceiling.env"

bench() {
	local pkg=$1 pattern=$2
	shift 2
	BENCH_DATABASE_URL=$url go test -run '^$' -bench "$pattern" -benchtime "${seconds}s" \
		-timeout 60m "$@" "$pkg" | tee -a "$work/bench.txt"
}
metric() { # metric BENCHMARK-PREFIX UNIT
	awk -v name="$1" -v unit="$2" 'index($1, name) == 1 {
		for (i = 2; i < NF; i++) if ($(i+1) == unit) { print $i; exit } }' "$work/bench.txt"
}

echo "running the benchmarks"
bench ./eventstore/ 'Append|ReadAll'
append16=$(metric 'BenchmarkAppend_OneEvent/goroutines=16' events/s)
lag_rate=$(awk -v r="$append16" 'BEGIN { printf "%d", r / 2 }')
BENCH_LAG_RATE=$lag_rate bench ./projections/ 'Projector' -benchtime 1x
BENCH_REBUILD_EVENTS=$rebuild_events bench ./projections/orders/ 'Rebuild' -benchtime 1x

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
append1=$(metric 'BenchmarkAppend_OneEvent/goroutines=1-' events/s)
append100=$(metric 'BenchmarkAppend_HundredEvents' events/s)
readall=$(metric 'BenchmarkReadAll' events/s)
noop=$(metric 'BenchmarkProjector_CatchUp/noop' events/s)
upsert=$(metric 'BenchmarkProjector_CatchUp/upsert' events/s)
p50=$(metric 'BenchmarkProjector_Lag' p50-ms)
p99=$(metric 'BenchmarkProjector_Lag' p99-ms)
rebuild=$(metric 'BenchmarkRebuild_Orders' events/s)
rebuild_ceiling=$(metric 'BenchmarkRebuild_Orders' ceiling-events/s)

{
	echo "Machine: $(nproc) cores, $(awk -F: '/model name/ { sub(/^ /, "", $2); print $2; exit }' /proc/cpuinfo)," \
		"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
		"$(postgres --version 2>/dev/null || echo PostgreSQL) with fsync on; $(date -u +%Y-%m-%d)."
	echo
	echo "| Measure | Engine | Ceiling (same run) | Ratio |"
	echo "| --- | ---: | ---: | ---: |"
	echo "| Append, 1 event per call, 1 goroutine | ${append1} ev/s | ${CEIL_INSERT1_C1_TPS} rows/s (pgbench, 1 client) | $(ratio "$append1" "$CEIL_INSERT1_C1_TPS") |"
	echo "| Append, 1 event per call, 16 goroutines, one stream type | ${append16} ev/s | ${CEIL_INSERT1_C16_TPS} rows/s (pgbench, 16 clients) | $(ratio "$append16" "$CEIL_INSERT1_C16_TPS") |"
	echo "| Append, 100 events per call | ${append100} ev/s | ${CEIL_INSERT100_C1_ROWS} rows/s (pgbench, 100-row insert) | $(ratio "$append100" "$CEIL_INSERT100_C1_ROWS") |"
	echo "| Read all, pages of 1000 | ${readall} ev/s | ${CEIL_READ1000_ROWS} rows/s (1000-row range read) | $(ratio "$readall" "$CEIL_READ1000_ROWS") |"
	echo "| Projector catch-up, no-op handler | ${noop} ev/s | | |"
	echo "| Projector catch-up, upsert handler | ${upsert} ev/s | target 50,000 ev/s | $(ratio "$upsert" 50000) |"
	echo "| Projection lag while writing ${lag_rate} ev/s | p50 ${p50} ms, p99 ${p99} ms | target p99 < 100 ms | |"
	echo "| Orders rebuild, ${rebuild_events} events | ${rebuild} ev/s | ${rebuild_ceiling} ev/s (set-based INSERT ... SELECT) | $(ratio "$rebuild" "$rebuild_ceiling") |"
} | tee "$out"
echo "results written to $out"
