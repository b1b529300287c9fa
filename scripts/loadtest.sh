#!/usr/bin/env bash
#
# loadtest.sh: drive the engine's HTTP API with vegeta and judge the figures
# against two ceilings measured in the same run. See --help.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: scripts/loadtest.sh [options]

Builds the engine, starts its embedded database on a fresh durable data
directory ("engine database serve") and the engine on that database, then
measures, in this order:
  1. the pgbench one-row insert ceiling of the same PostgreSQL server
     (scripts/pgbench_ceiling.sh; the 16-client figure is the reference);
  2. create-order (POST /v1/orders) at the highest rate K workers reach
     (vegeta -rate=0 -max-workers=K), with p50 and p99;
  3. create-order at half that rate, with p50 and p99;
  4. get-order (GET /v1/orders/{id}) at the highest rate K workers reach;
  5. a bare Echo handler (GET / with a small JSON answer, served by
     scripts/loadtest) attacked the same way, the reference for get-order.
Each request carries a real access token: scripts/loadtest registers an
owner, a business with products and the customers, signs them in and places
one order per customer for get-order, before the attacks.

Targets on a 2-core machine:
  create-order maximum    >= 0.5x the pgbench 16-client one-row ceiling
  create-order half rate  p99 < 20 ms
  get-order maximum       >= 0.4x the bare handler
vegeta runs on the same cores as the engine and PostgreSQL, so its own CPU
time is part of every figure; the report says how much of it went where.

The markdown report is printed and written to --out. vegeta is installed
with "go install" into GOBIN (or GOPATH/bin) when it is missing.

Options:
  --duration D         length of each attack: seconds, or N s or N m
                       (default 30s)
  --ceiling-seconds N  length of each pgbench run (default: the duration)
  --workers K          vegeta -max-workers of the maximum-rate attacks
                       (default 16, as many as the pgbench clients)
  --customers N        customers, and so tokens and orders, to spread the
                       requests over (default 50)
  --out FILE           where to write the report (default loadtest-results.md)
  --strict             exit 3 when a figure misses its target
  -h, --help           show this help
EOF
}

readonly VEGETA_MODULE=github.com/tsenart/vegeta/v12@v12.13.0

DURATION=30
CEILING_SECONDS=''
WORKERS=16
CUSTOMERS=50
OUT=loadtest-results.md
STRICT=false

fail() {
	printf 'loadtest.sh: %s\n' "$*" >&2
	exit 1
}

usage_error() {
	printf 'loadtest.sh: %s\nTry loadtest.sh --help.\n' "$*" >&2
	exit 2
}

# seconds_of D prints D (N, Ns or Nm) in whole seconds.
seconds_of() {
	case $1 in
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}

parse_args() {
	while (($# > 0)); do
		case $1 in
		--duration | --ceiling-seconds | --workers | --customers | --out)
			(($# >= 2)) || usage_error "$1 needs a value"
			set_option "$1" "$2"
			shift
			;;
		--duration=* | --ceiling-seconds=* | --workers=* | --customers=* | --out=*)
			set_option "${1%%=*}" "${1#*=}"
			;;
		--strict) STRICT=true ;;
		-h | --help)
			usage
			exit 0
			;;
		*) usage_error "unknown argument: $1" ;;
		esac
		shift
	done
}

set_option() {
	case $1 in
	--duration)
		[[ $2 =~ ^[1-9][0-9]*[sm]?$ ]] || usage_error "--duration must look like 30, 30s or 2m, not '$2'"
		DURATION=$(seconds_of "$2")
		;;
	--ceiling-seconds)
		[[ $2 =~ ^[1-9][0-9]*$ ]] || usage_error "--ceiling-seconds must be a positive number"
		CEILING_SECONDS=$2
		;;
	--workers)
		[[ $2 =~ ^[1-9][0-9]*$ ]] || usage_error "--workers must be a positive number"
		WORKERS=$2
		;;
	--customers)
		[[ $2 =~ ^[1-9][0-9]*$ ]] || usage_error "--customers must be a positive number"
		CUSTOMERS=$2
		;;
	--out)
		[[ -n $2 ]] || usage_error "--out needs a file"
		OUT=$2
		;;
	esac
}

# find_vegeta prints the path of vegeta, installing it first when missing.
find_vegeta() {
	local gobin
	if command -v vegeta >/dev/null; then
		command -v vegeta
		return
	fi
	gobin=$(go env GOBIN)
	[[ -n $gobin ]] || gobin=$(go env GOPATH)/bin
	if [[ ! -x $gobin/vegeta ]]; then
		echo "installing vegeta into $gobin" >&2
		GOBIN=$gobin go install "$VEGETA_MODULE" >&2 || fail "could not install vegeta"
	fi
	printf '%s\n' "$gobin/vegeta"
}

WORK=''
DB_PID=''
ENGINE_PID=''
BARE_PID=''

# stop PID sends SIGTERM to one process this script started and waits for it.
stop() {
	[[ -n $1 ]] || return 0
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT
	stop "$BARE_PID"
	stop "$ENGINE_PID"
	stop "$DB_PID"
	if [[ -n $WORK ]]; then
		rm -rf -- "$WORK"
	fi
	exit "$rc"
}

# wait_for_line FILE SED_EXPRESSION PID WHAT prints the first match of the
# sed expression in FILE, waiting up to a minute while PID runs.
wait_for_line() {
	local file=$1 expr=$2 pid=$3 what=$4 value
	for _ in $(seq 1 600); do
		value=$(sed -n "$expr" "$file" 2>/dev/null | head -n 1)
		if [[ -n $value ]]; then
			printf '%s\n' "$value"
			return
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "$what did not start; its log ends with: $(tail -n 5 -- "$WORK"/*.log 2>/dev/null)"
}

start_database() {
	echo "starting the embedded database in $WORK/data"
	DATA_DIR=$WORK/data "$WORK/engine" database serve >"$WORK/db.out" 2>"$WORK/db.log" &
	DB_PID=$!
	DATABASE_URL=$(wait_for_line "$WORK/db.out" 's/^DATABASE_URL=//p' "$DB_PID" "the database")
}

start_engine() {
	echo "starting the engine"
	DATABASE_URL=$DATABASE_URL DATA_DIR=$WORK/data UPLOADS_DIR=$WORK/uploads \
		HTTP_ADDR=127.0.0.1:0 APP_ENV=development LOG_LEVEL=info LOG_FORMAT=text \
		LOGIN_RATE_LIMIT=1000000 ACCESS_TOKEN_TTL=4h \
		"$WORK/engine" serve >"$WORK/engine.out" 2>"$WORK/engine.log" &
	ENGINE_PID=$!
	local addr
	addr=$(wait_for_line "$WORK/engine.log" 's/.*msg="engine listening" addr=\([^ ]*\).*/\1/p' \
		"$ENGINE_PID" "the engine")
	BASE_URL=http://$addr
	for _ in $(seq 1 100); do
		"$WORK/engine" healthcheck --url "$BASE_URL/health" 2>/dev/null && return
		sleep 0.1
	done
	fail "the engine at $BASE_URL did not answer /health"
}

start_bare() {
	"$WORK/loadtest" bare --addr 127.0.0.1:0 >"$WORK/bare.out" 2>"$WORK/bare.log" &
	BARE_PID=$!
	BARE_URL=$(wait_for_line "$WORK/bare.out" 's/^listening on //p' "$BARE_PID" "the bare handler")
	printf 'GET %s/\n\n' "$BARE_URL" >"$WORK/bare.http"
}

# proc_ticks PID... prints the CPU time, in clock ticks, that the processes
# used, with that of their children already reaped.
proc_ticks() {
	local pid stat total=0
	local -a f
	for pid in "$@"; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		read -r -a f <<<"${stat##*) }"
		# After the name: state ppid ... utime(12th) stime(13th) cutime cstime.
		total=$((total + f[11] + f[12] + f[13] + f[14]))
	done
	echo "$total"
}

# postgres_pids prints the postmaster's pid and those of its children.
postgres_pids() {
	local master stat
	master=$(head -n 1 "$WORK/data/postgres/postmaster.pid")
	echo "$master"
	for stat in /proc/[0-9]*/stat; do
		[[ $(cat "$stat" 2>/dev/null) =~ \)\ .\ $master\  ]] && basename "$(dirname "$stat")"
	done
	return 0
}

# attack NAME TARGETS RATE SERVER_PID [vegeta options...] runs one measured
# attack and writes NAME.json (vegeta's report) and, to cpu.env, the CPU
# seconds that the HTTP server, PostgreSQL and vegeta used for it. When the
# server is the engine, the window lasts until its read models have caught
# up, so the projectors' share of the work is counted even when they lag;
# how far behind they were goes to notes.md.
attack() {
	local name=$1 targets=$2 rate=$3 server=$4 server0 pg0 server1 pg1 vegeta_cpu
	local -a pg_pids
	shift 4
	printf 'attack %-12s rate=%s for %ss\n' "$name" "$rate" "$DURATION"
	server0=$(proc_ticks "$server")
	mapfile -t pg_pids < <(postgres_pids)
	pg0=$(proc_ticks "${pg_pids[@]}")
	vegeta_cpu=$({
		TIMEFORMAT='%U %S'
		time "$VEGETA" attack -format=http -targets="$targets" -rate="$rate" \
			-duration="${DURATION}s" -timeout=30s "$@" -output="$WORK/$name.bin" 2>"$WORK/vegeta.log"
	} 2>&1 | awk '{ printf "%.2f", $1 + $2 }') ||
		fail "vegeta attack $name failed: $(tail -n 5 -- "$WORK/vegeta.log")"
	if [[ $server == "$ENGINE_PID" ]]; then
		settle "the $(label_of "$name") run" >>"$WORK/notes.md"
	fi
	server1=$(proc_ticks "$server")
	mapfile -t pg_pids < <(postgres_pids)
	pg1=$(proc_ticks "${pg_pids[@]}")
	{
		echo "CPU_${name//-/_}_SERVER=$(seconds $((server1 - server0)))"
		echo "CPU_${name//-/_}_POSTGRES=$(seconds $((pg1 - pg0)))"
		echo "CPU_${name//-/_}_VEGETA=${vegeta_cpu}"
	} >>"$WORK/cpu.env"
	"$VEGETA" report -type=json -output="$WORK/$name.json" "$WORK/$name.bin"
	"$VEGETA" report -type=text "$WORK/$name.bin" | sed -n '1p;3p;6p'
}

# label_of NAME prints how the report names an attack.
label_of() {
	case $1 in
	create-max) echo 'create-order maximum' ;;
	create-half) echo 'create-order half-rate' ;;
	get-max) echo 'get-order maximum' ;;
	*) echo "$1" ;;
	esac
}

# settle WHAT waits until the read models have caught up with the event
# store and prints how far behind they were after WHAT.
settle() {
	local sentence
	sentence=$("$WORK/loadtest" settle --base "$BASE_URL" --after "$1")
	printf '%s\n' "$sentence" >&2
	printf '%s\n' "$sentence"
}

# seconds TICKS prints clock ticks as seconds.
seconds() {
	awk -v d="$1" -v t="$TICKS" 'BEGIN { printf "%.2f", d / t }'
}

# warm_up TARGETS sends load for a few seconds that no figure counts.
warm_up() {
	"$VEGETA" attack -format=http -targets="$1" -rate=0 -max-workers="$WORKERS" -duration=3s \
		-timeout=30s >/dev/null
}

main() {
	parse_args "$@"
	CEILING_SECONDS=${CEILING_SECONDS:-$DURATION}
	OUT=$(realpath -m -- "$OUT")
	cd "$(dirname "$0")/.."
	command -v go >/dev/null || fail "go not found"
	command -v pgbench >/dev/null || fail "pgbench not found; install postgresql-client-15"
	VEGETA=$(find_vegeta)
	TICKS=$(getconf CLK_TCK)
	trap cleanup EXIT

	WORK=$(mktemp -d "${TMPDIR:-/tmp}/comanda-loadtest.XXXXXX")
	# As root the database runs as the postgres user, which must reach DATA_DIR.
	chmod 711 -- "$WORK"
	echo "building the engine and scripts/loadtest"
	go build -o "$WORK/engine" ./cmd/engine
	go build -o "$WORK/loadtest" ./scripts/loadtest

	start_database
	start_engine

	echo "measuring the pgbench ceiling (${CEILING_SECONDS} s per run)"
	DATABASE_URL=$DATABASE_URL scripts/pgbench_ceiling.sh --seconds "$CEILING_SECONDS" \
		--out "$WORK/ceiling.env" >"$WORK/ceiling.log" 2>&1 ||
		fail "pgbench_ceiling.sh failed: $(tail -n 5 -- "$WORK/ceiling.log")"
	sed -n '/^workload/,/^$/p' "$WORK/ceiling.log"

	echo "preparing $CUSTOMERS customers and their orders"
	"$WORK/loadtest" setup --base "$BASE_URL" --out "$WORK/targets" --customers "$CUSTOMERS"
	local create=$WORK/targets/create-order.http get=$WORK/targets/get-order.http
	: >"$WORK/cpu.env"
	: >"$WORK/notes.md"

	warm_up "$create"
	settle "the warm-up" >/dev/null
	attack create-max "$create" 0 "$ENGINE_PID" -max-workers="$WORKERS"
	local max_rate half_rate
	max_rate=$(sed -n 's/.*"throughput":\([0-9.eE+-]*\).*/\1/p' "$WORK/create-max.json")
	half_rate=$(awk -v r="$max_rate" 'BEGIN { h = int(r / 2); print (h < 1 ? 1 : h) }')
	attack create-half "$create" "${half_rate}/1s" "$ENGINE_PID"

	warm_up "$get"
	settle "the warm-up" >/dev/null
	attack get-max "$get" 0 "$ENGINE_PID" -max-workers="$WORKERS"

	start_bare
	warm_up "$WORK/bare.http"
	attack bare-max "$WORK/bare.http" 0 "$BARE_PID" -max-workers="$WORKERS"
	stop "$BARE_PID"
	BARE_PID=''

	local strict=() rc=0
	[[ $STRICT == true ]] && strict=(--strict)
	echo
	"$WORK/loadtest" report --dir "$WORK" --ceiling "$WORK/ceiling.env" --cpu "$WORK/cpu.env" \
		--notes "$WORK/notes.md" \
		--workers "$WORKERS" --duration "${DURATION}s" --half-rate "$half_rate" "${strict[@]}" \
		>"$WORK/report.md" || rc=$?
	cat "$WORK/report.md"
	mv -f -- "$WORK/report.md" "$OUT"
	echo
	echo "report written to $OUT"
	if ((rc == 3)); then
		exit 3
	fi
	((rc == 0)) || fail "the report could not be made"
}

main "$@"
