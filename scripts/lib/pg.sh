# shellcheck shell=bash
# shellcheck disable=SC2034 # the constants here are read by the scripts that source this file
# PostgreSQL helpers shared by the backup and restore scripts: connection
# strings, psql, and the repairs a restored event log needs. Sourcing this
# file runs nothing. Connection strings may be URIs
# (postgres://user@host:5432/comanda) or keyword/value strings
# (host=/run/pg port=5432 dbname=comanda).

# url_database URL prints the database named in URL, or fails when it names
# none.
url_database() {
	local url=$1 rest path
	if [[ $url == postgres://* || $url == postgresql://* ]]; then
		rest=${url#*://}
		rest=${rest%%\?*}
		[[ $rest == */* ]] || return 1
		path=${rest#*/}
		[[ -n $path && $path != */* && $path != *%* ]] || return 1
		printf '%s\n' "$path"
		return 0
	fi

	local re="(^|[[:space:]])dbname[[:space:]]*=[[:space:]]*('([^'\\\\]|\\\\.)*'|[^[:space:]']+)"
	local value='' rest_url=$url
	# The last dbname wins, as in libpq.
	while [[ $rest_url =~ $re ]]; do
		value=${BASH_REMATCH[2]}
		rest_url=${rest_url#*"${BASH_REMATCH[0]}"}
	done
	[[ -n $value ]] || return 1
	if [[ $value == \'*\' ]]; then
		value=${value:1:${#value}-2}
		value=${value//\\\'/\'}
		value=${value//\\\\/\\}
	fi
	printf '%s\n' "$value"
}

# url_with_database URL NAME prints URL with its database replaced by NAME.
url_with_database() {
	local url=$1 name=$2
	if [[ $url == postgres://* || $url == postgresql://* ]]; then
		local scheme=${url%%://*} rest=${url#*://} query='' authority
		if [[ $rest == *\?* ]]; then
			query="?${rest#*\?}"
			rest=${rest%%\?*}
		fi
		authority=${rest%%/*}
		printf '%s://%s/%s%s\n' "$scheme" "$authority" "$name" "$query"
		return 0
	fi
	# A later keyword overrides an earlier one in a keyword/value string.
	local quoted=${name//\\/\\\\}
	quoted=${quoted//\'/\\\'}
	printf "%s dbname='%s'\n" "$url" "$quoted"
}

# redact_url URL prints URL without its password, for log lines.
redact_url() {
	local url=$1
	if [[ $url == *://* ]]; then
		local scheme=${url%%://*} rest=${url#*://} authority
		authority=${rest%%[/?]*}
		if [[ $authority == *:*@* ]]; then
			rest="${authority%%:*}:***@${rest#*@}"
		fi
		printf '%s://%s\n' "$scheme" "$rest" | sed -E 's/([?&]password=)[^&]*/\1***/g'
	else
		printf '%s\n' "$url" | sed -E "s/(password[[:space:]]*=[[:space:]]*)('[^']*'|[^[:space:]]+)/\1***/g"
	fi
}

# sql_ident NAME prints NAME as a quoted SQL identifier.
sql_ident() {
	printf '"%s"' "${1//\"/\"\"}"
}

# sql_literal TEXT prints TEXT as a quoted SQL string literal.
sql_literal() {
	printf "'%s'" "${1//\'/\'\'}"
}

# psql_value URL SQL prints the single value SQL returns.
psql_value() {
	psql --no-psqlrc --no-password --quiet --tuples-only --no-align \
		--set=ON_ERROR_STOP=1 --dbname="$1" --command="$2"
}

# psql_run URL SQL runs SQL (several statements allowed) and prints nothing.
psql_run() {
	psql --no-psqlrc --no-password --quiet --set=ON_ERROR_STOP=1 --dbname="$1" \
		--command='SET client_min_messages = warning' --command="$2" >/dev/null
}

# count_events URL prints the number of rows in events.
count_events() {
	psql_value "$1" 'SELECT count(*) FROM events'
}

# database_exists MAINTENANCE_URL NAME prints t when the database exists and
# f when it does not.
database_exists() {
	psql_value "$1" "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $(sql_literal "$2"))"
}

# events_rows URL prints the number of rows in events (0 when the table does
# not exist).
events_rows() {
	# Two queries: PostgreSQL resolves every table a statement names before it
	# runs, so a count inside a CASE fails on a database without events.
	local exists
	exists=$(psql_value "$1" "SELECT to_regclass('events') IS NOT NULL") || return 1
	if [[ $exists != t ]]; then
		echo 0
		return 0
	fi
	psql_value "$1" "SELECT count(*) FROM events"
}

# dump_lists_events_data DUMP succeeds when the dump holds the rows of the
# events table.
dump_lists_events_data() {
	# The listing is read whole first: grep -q stopping early would kill
	# pg_restore with SIGPIPE, which pipefail reports as a failure.
	local listing
	listing=$(pg_restore --list -- "$1") || return 1
	grep -Eq '^[0-9]+; [0-9]+ [0-9]+ TABLE DATA [^ ]+ events ' <<<"$listing"
}

# The SQL below repairs transaction ids after a restore.
#
# events.transaction_id holds pg_current_xact_id() of the cluster that wrote
# each row, and projectors only read rows whose transaction_id is below
# pg_snapshot_xmin(pg_current_snapshot()). A dump restored into another
# cluster (a new one, or one whose counter is behind) carries ids that can be
# ahead of that cluster's counter: those rows, and every row written after
# them, stay invisible to projectors until the counter catches up, which may
# be never.
#
# The repair gives every restored row the constant transaction id 1, which is
# below any snapshot's xmin (normal ids start at 3), so the whole restored log
# is visible and sorts before anything the cluster writes from now on. Rows
# that share one transaction id are ordered by global_position, which follows
# the order in which they were written; for the rows of one stream it follows
# stream_version, since a writer only appends to a stream once the previous
# event of that stream has committed.
#
# The checkpoints in projection_offsets compare (transaction id, position)
# pairs, so they are rewritten in the same transaction as the rows: each
# consumer group gets last_processed_transaction_id 1 (0 stays 0) and an
# offset just before the first event it had not processed under the old
# ordering. A group never skips an event it had not processed; when
# transactions had committed out of position order, it may see again a few
# events it had already processed, which projectors tolerate as a redelivery.
#
# The global_position sequence is moved past the highest restored position,
# so new events are appended after the restored ones.
#
# Run this in the same transaction as anything else that changes events.
readonly RENUMBER_TRANSACTIONS_SQL="
UPDATE projection_offsets AS o
SET offset_acked = COALESCE(
        (SELECT min(e.global_position) - 1
         FROM events AS e
         WHERE (e.transaction_id, e.global_position)
               > (o.last_processed_transaction_id, o.offset_acked)),
        (SELECT max(e.global_position) FROM events AS e),
        o.offset_acked),
    last_processed_transaction_id = LEAST(o.last_processed_transaction_id, '1'::xid8);

UPDATE events SET transaction_id = '1' WHERE transaction_id <> '1';

SELECT setval(seq, GREATEST(max_position, COALESCE(pg_sequence_last_value(seq), 0)))
FROM (SELECT pg_get_serial_sequence('events', 'global_position')::regclass AS seq,
             (SELECT max(global_position) FROM events) AS max_position) AS s
WHERE max_position IS NOT NULL;
"

# Rebuilding every projection empties each read table listed in
# projection_tables and forgets every consumer group's checkpoint. Running
# projectors read their checkpoint on every poll, so they start over from the
# first event. Tables listed but missing are left out.
readonly RESET_PROJECTIONS_SQL="
DO \$reset\$
DECLARE
    tables text;
BEGIN
    SELECT string_agg(to_regclass(table_name)::text, ', ' ORDER BY table_name)
    INTO tables
    FROM projection_tables
    WHERE to_regclass(table_name) IS NOT NULL;

    IF tables IS NOT NULL THEN
        EXECUTE 'TRUNCATE ' || tables;
    END IF;
END
\$reset\$;

DELETE FROM projection_offsets;
"
