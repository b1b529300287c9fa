#!/usr/bin/env bash
#
# pgbench_ceiling.sh: measure how fast this machine's PostgreSQL can insert
# and read rows shaped like the event store's, with nothing of the engine in
# the way. It gives the ceiling against which the engine's own throughput is
# judged. See --help.
set -Eeuo pipefail

usage() {
	cat <<'EOF'
Usage: pgbench_ceiling.sh [options]

Creates a scratch table with the columns, constraints and indexes of events
and runs pgbench on it:
  insert1   one-row INSERT per transaction, 1 client and 16 clients
  insert100 one 100-row INSERT ... SELECT per transaction, 1 and 4 clients
  read1000  a range read of 1000 rows by global_position, 1 client
then prints a table (transactions/s and rows/s) with the machine's cores and
CPU model.

The database is DATABASE_URL when set (the scratch table is dropped at the
end). Otherwise a throwaway cluster is created with initdb in a temporary
folder, reached only through a unix socket, with the default durability
settings (fsync, synchronous_commit and full_page_writes on); as root it runs
as the postgres user.

Options:
  --seconds N   length of each run (default 10)
  --out FILE    also write the results as KEY=VALUE lines, for example
                CEIL_INSERT1_C1_TPS, CEIL_INSERT1_C16_TPS,
                CEIL_INSERT100_C1_ROWS, CEIL_INSERT100_C4_ROWS,
                CEIL_READ1000_ROWS
  -h, --help    show this help
EOF
}

SECONDS_PER_RUN=10
OUT=''
TABLE=ceiling_events

fail() {
	printf 'pgbench_ceiling.sh: %s\n' "$*" >&2
	exit 1
}

usage_error() {
	printf 'pgbench_ceiling.sh: %s\nTry pgbench_ceiling.sh --help.\n' "$*" >&2
	exit 2
}

parse_args() {
	while (($# > 0)); do
		case $1 in
		--seconds)
			(($# >= 2)) || usage_error "--seconds needs a number"
			SECONDS_PER_RUN=$2
			shift
			;;
		--seconds=*) SECONDS_PER_RUN=${1#*=} ;;
		--out)
			(($# >= 2)) || usage_error "--out needs a file"
			OUT=$2
			shift
			;;
		--out=*) OUT=${1#*=} ;;
		-h | --help)
			usage
			exit 0
			;;
		*) usage_error "unknown argument: $1" ;;
		esac
		shift
	done
	[[ $SECONDS_PER_RUN =~ ^[1-9][0-9]*$ ]] ||
		usage_error "--seconds must be a positive whole number, not '$SECONDS_PER_RUN'"
}

# find_server_bin prints the folder of initdb and pg_ctl.
find_server_bin() {
	local initdb dir
	if initdb=$(command -v initdb); then
		dirname -- "$(readlink -f -- "$initdb")"
		return
	fi
	for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4 -rn); do
		if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
			printf '%s\n' "$dir"
			return
		fi
	done
	return 1
}

# as_server_user CMD... runs a server program, as the postgres user when this
# script runs as root (initdb and postgres refuse to run as root).
as_server_user() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

WORK_DIR=''
SERVER_BIN=''
CONN=''
CREATED_TABLE=false

cleanup() {
	local rc=$?
	trap - EXIT
	if [[ $CREATED_TABLE == true && -n ${DATABASE_URL:-} ]]; then
		psql_quiet -c "DROP TABLE IF EXISTS ${TABLE}" || true
	fi
	if [[ -n $WORK_DIR ]]; then
		if [[ -f $WORK_DIR/data/postmaster.pid ]]; then
			as_server_user "$SERVER_BIN/pg_ctl" -D "$WORK_DIR/data" -m fast -w stop >/dev/null || true
		fi
		rm -rf -- "$WORK_DIR"
	fi
	exit "$rc"
}

# start_throwaway_cluster creates and starts a private cluster and sets CONN.
start_throwaway_cluster() {
	SERVER_BIN=$(find_server_bin) || fail "initdb and pg_ctl not found; install postgresql-15"
	WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pgbench-ceiling.XXXXXX")
	mkdir -p -- "$WORK_DIR/socket"
	if ((EUID == 0)); then
		chown -R postgres: -- "$WORK_DIR"
		chmod 711 -- "$WORK_DIR"
	fi

	echo "starting a throwaway cluster in $WORK_DIR"
	as_server_user "$SERVER_BIN/initdb" -D "$WORK_DIR/data" -U postgres --auth=trust \
		-E UTF8 --locale=C >"$WORK_DIR/initdb.log" 2>&1 ||
		fail "initdb failed: $(tail -n 5 -- "$WORK_DIR/initdb.log")"
	# Default durability; only the listening is changed: a unix socket in the
	# private folder and no TCP port.
	as_server_user "$SERVER_BIN/pg_ctl" -D "$WORK_DIR/data" -l "$WORK_DIR/server.log" -w \
		-o "-k $WORK_DIR/socket -c listen_addresses= -p 5432" start >/dev/null ||
		fail "the server did not start: $(tail -n 5 -- "$WORK_DIR/server.log")"
	CONN="host=$WORK_DIR/socket port=5432 user=postgres dbname=postgres"
}

psql_quiet() {
	psql --no-psqlrc --no-password --quiet --set=ON_ERROR_STOP=1 --dbname="$CONN" "$@"
}

psql_value() {
	psql_quiet --tuples-only --no-align -c "$1"
}

# create_table makes the scratch table. Its definition is that of events in
# migrations/00001_event_store.sql under another name; keep them alike.
create_table() {
	psql_quiet <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS ${TABLE};
CREATE TABLE ${TABLE} (
    global_position bigserial   NOT NULL,
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_type     text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL DEFAULT 1 CHECK (schema_version > 0),
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT ${TABLE}_pkey PRIMARY KEY (transaction_id, global_position),
    CONSTRAINT ${TABLE}_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT ${TABLE}_event_id_key UNIQUE (event_id)
);
CREATE INDEX ${TABLE}_global_position_idx ON ${TABLE} (global_position);
CREATE INDEX ${TABLE}_stream_type_idx ON ${TABLE} (stream_type, global_position);
SQL
	CREATED_TABLE=true
}

# A payload and metadata of the size the engine writes for an order event.
readonly PAYLOAD="'{\"order_id\": \"3f1c2a4e-8d5b-4c71-9a0e-2b6f7d8e9a10\",
  \"customer_id\": \"c-10293\",
  \"items\": [{\"sku\": \"BURGER-DBL\", \"quantity\": 2, \"unit_price\": 8900},
            {\"sku\": \"FRIES-L\", \"quantity\": 1, \"unit_price\": 3500}],
  \"total\": 21300, \"currency\": \"ARS\", \"table\": \"12\"}'::jsonb"
readonly METADATA="'{\"correlation_id\": \"7c9e6679-7425-40de-944b-e07fc1f90ae7\",
  \"causation_id\": \"a8098c1a-f86e-11da-bd1a-00112b00000f\",
  \"actor\": \"user-42\", \"source\": \"httpapi\"}'::jsonb"
readonly COLUMNS_LIST='event_id, stream_id, stream_type, stream_version, event_type, payload, metadata'

write_workloads() {
	cat >"$SCRIPTS/insert1.sql" <<SQL
INSERT INTO ${TABLE} (${COLUMNS_LIST})
VALUES (gen_random_uuid(), 'order-' || gen_random_uuid(), 'order', 1, 'OrderPlaced',
        ${PAYLOAD}, ${METADATA});
SQL
	cat >"$SCRIPTS/insert100.sql" <<SQL
INSERT INTO ${TABLE} (${COLUMNS_LIST})
SELECT gen_random_uuid(), s.stream_id, 'order', v, 'OrderItemAdded', ${PAYLOAD}, ${METADATA}
FROM (SELECT 'order-' || gen_random_uuid() AS stream_id) AS s, generate_series(1, 100) AS v;
SQL
	cat >"$SCRIPTS/read1000.sql" <<SQL
\\set start random(:min_start, :max_start)
SELECT global_position, event_id, stream_id, stream_type, stream_version, event_type,
       schema_version, payload, metadata, recorded_at, transaction_id
FROM ${TABLE}
WHERE global_position > :start
ORDER BY global_position
LIMIT 1000;
SQL
}

# bench NAME SCRIPT CLIENTS ROWS_PER_TX [pgbench options...] runs pgbench and
# records tps, rows/s and latency under NAME.
declare -A TPS=() ROWS=() LATENCY=()
NAMES=()
bench() {
	local name=$1 script=$2 clients=$3 rows=$4 output tps latency failed
	shift 4
	local jobs=$((clients < NPROC ? clients : NPROC))
	printf 'running %s with %d client(s) for %d s\n' "$name" "$clients" "$SECONDS_PER_RUN"
	output=$(pgbench --no-vacuum --client="$clients" --jobs="$jobs" --time="$SECONDS_PER_RUN" \
		--file="$SCRIPTS/$script" "$@" "$CONN" 2>&1) ||
		fail "pgbench $name failed: $output"
	tps=$(awk '/^tps = / { print $3; exit }' <<<"$output")
	latency=$(awk '/^latency average = / { print $4; exit }' <<<"$output")
	failed=$(awk '/^number of failed transactions: / { print $5; exit }' <<<"$output")
	[[ -n $tps ]] || fail "no tps in the output of pgbench $name: $output"
	[[ ${failed:-0} == 0 ]] || fail "pgbench $name had ${failed} failed transactions"
	TPS[$name]=$(awk -v t="$tps" 'BEGIN { printf "%.1f", t }')
	ROWS[$name]=$(awk -v t="$tps" -v r="$rows" 'BEGIN { printf "%.0f", t * r }')
	LATENCY[$name]=${latency:-?}
	NAMES+=("$name")
}

main() {
	parse_args "$@"
	trap cleanup EXIT
	command -v pgbench >/dev/null || fail "pgbench not found; install postgresql-client-15"
	command -v psql >/dev/null || fail "psql not found; install postgresql-client-15"

	NPROC=$(nproc)
	CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
	CPU_MODEL=${CPU_MODEL:-$(uname -m)}
	echo "nproc: ${NPROC}"
	echo "cpu: ${CPU_MODEL}"

	local target
	if [[ -n ${DATABASE_URL:-} ]]; then
		CONN=$DATABASE_URL
		target=database
		echo "database: DATABASE_URL (table ${TABLE} is created and dropped)"
	else
		start_throwaway_cluster
		target=throwaway-cluster
	fi
	local version fsync sync_commit fpw
	version=$(psql_value 'SHOW server_version')
	fsync=$(psql_value 'SHOW fsync')
	sync_commit=$(psql_value 'SHOW synchronous_commit')
	fpw=$(psql_value 'SHOW full_page_writes')
	echo "postgres ${version}:" \
		"fsync=${fsync} synchronous_commit=${sync_commit} full_page_writes=${fpw}"

	SCRIPTS=$(mktemp -d)
	create_table
	write_workloads

	bench INSERT1_C1 insert1.sql 1 1
	bench INSERT1_C16 insert1.sql 16 1
	bench INSERT100_C1 insert100.sql 1 100
	bench INSERT100_C4 insert100.sql 4 100

	# The read needs at least a few thousand rows to choose from.
	psql_quiet -c "INSERT INTO ${TABLE} (${COLUMNS_LIST})
		SELECT gen_random_uuid(), 'seed-' || g, 'order', 1, 'OrderPlaced', ${PAYLOAD}, ${METADATA}
		FROM generate_series(1, 5000) AS g" -c "VACUUM ANALYZE ${TABLE}"
	local min_pos max_pos
	min_pos=$(psql_value "SELECT min(global_position) - 1 FROM ${TABLE}")
	max_pos=$(psql_value "SELECT max(global_position) - 1000 FROM ${TABLE}")
	bench READ1000 read1000.sql 1 1000 --define=min_start="$min_pos" --define=max_start="$max_pos"
	rm -rf -- "$SCRIPTS"

	echo
	printf '%-34s %8s %12s %12s %11s\n' workload clients tx/s rows/s latency_ms
	local name clients label
	for name in "${NAMES[@]}"; do
		clients=${name##*_C}
		case $name in
		INSERT1_*) label='insert, 1 row per transaction' ;;
		INSERT100_*) label='insert, 100 rows per transaction' ;;
		READ1000) label='read 1000 rows by position'; clients=1 ;;
		esac
		printf '%-34s %8s %12s %12s %11s\n' \
			"$label" "$clients" "${TPS[$name]}" "${ROWS[$name]}" "${LATENCY[$name]}"
	done

	if [[ -n $OUT ]]; then
		write_results "$target" "$version" "$fsync" "$sync_commit" "$fpw"
		echo
		echo "results written to ${OUT}"
	fi
}

# shell_quote VALUE prints VALUE in single quotes, for a file that shells can
# source.
shell_quote() {
	printf "'%s'" "${1//\'/\'\\\'\'}"
}

write_results() {
	local name
	{
		echo "CEIL_SECONDS=${SECONDS_PER_RUN}"
		echo "CEIL_NPROC=${NPROC}"
		echo "CEIL_CPU_MODEL=$(shell_quote "$CPU_MODEL")"
		echo "CEIL_TARGET=$1"
		echo "CEIL_PG_VERSION=$(shell_quote "$2")"
		echo "CEIL_FSYNC=$3"
		echo "CEIL_SYNCHRONOUS_COMMIT=$4"
		echo "CEIL_FULL_PAGE_WRITES=$5"
		for name in "${NAMES[@]}"; do
			echo "CEIL_${name}_TPS=${TPS[$name]}"
			echo "CEIL_${name}_ROWS=${ROWS[$name]}"
			echo "CEIL_${name}_LATENCY_MS=${LATENCY[$name]}"
		done
	} >"$OUT.partial"
	mv -f -- "$OUT.partial" "$OUT"
}

main "$@"
