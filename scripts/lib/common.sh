# shellcheck shell=bash
# shellcheck disable=SC2034 # the constants here are read by the scripts that source this file
# Shared by the backup, restore and status scripts: log lines that name the
# current step, running a command so that its error output reaches the log,
# backup file names, and checksum files. Sourcing this file runs nothing.

# LOG_TAG names the script in every log line. LOG_FILE, when set, receives a
# copy of every line. CURRENT_STEP is the step a failure is reported against.
# Command substitutions keep errexit, so a failure inside one stops the script.
shopt -s inherit_errexit

LOG_TAG=${LOG_TAG:-comanda}
LOG_FILE=${LOG_FILE:-}
CURRENT_STEP=start

# A backup is a set of files that share a UTC stamp such as 20261203T101500Z:
#   comanda-db-<stamp>.dump            pg_dump custom format
#   comanda-uploads-<stamp>.tar.gz     the uploads directory
# each next to a <file>.sha256 in the format of sha256sum.
STAMP_GLOB='[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z'
STAMP_REGEX='[0-9]{8}T[0-9]{6}Z'
DB_BACKUP_GLOB="comanda-db-${STAMP_GLOB}.dump"
FILES_BACKUP_GLOB="comanda-uploads-${STAMP_GLOB}.tar.gz"

# utc_stamp prints the current time as a backup stamp.
utc_stamp() {
	date -u +%Y%m%dT%H%M%SZ
}

db_backup_name() {
	printf 'comanda-db-%s.dump' "$1"
}

files_backup_name() {
	printf 'comanda-uploads-%s.tar.gz' "$1"
}

# _log_write LEVEL MESSAGE... writes one line to stdout (stderr for errors and
# warnings, so that command substitutions never capture log lines) and to
# LOG_FILE.
_log_write() {
	local level=$1 line
	shift
	line="$(date -u +%Y-%m-%dT%H:%M:%SZ) ${LOG_TAG} ${level} [${CURRENT_STEP}] $*"
	if [[ $level == INFO ]]; then
		printf '%s\n' "$line"
	else
		printf '%s\n' "$line" >&2
	fi
	if [[ -n $LOG_FILE ]]; then
		printf '%s\n' "$line" >>"$LOG_FILE" || true
	fi
}

log() {
	_log_write INFO "$@"
}

log_warn() {
	_log_write WARN "$@"
}

log_error() {
	_log_write ERROR "$@"
}

# step NAME MESSAGE... starts a step: failures from now on are reported
# against NAME.
step() {
	CURRENT_STEP=$1
	shift
	log "$@"
}

# die MESSAGE... logs an error against the current step and exits with 1.
die() {
	log_error "$@"
	exit 1
}

# usage_error MESSAGE... reports a mistake on the command line and exits with 2.
usage_error() {
	printf '%s: %s\n' "$LOG_TAG" "$*" >&2
	printf 'Try %s --help.\n' "$LOG_TAG" >&2
	exit 2
}

# run COMMAND [ARGS...] runs a command or a shell function with its standard
# error captured, then copies that output into the log (as errors when the
# command failed, as warnings otherwise) and returns the command's status.
#
# The command runs as a background job that is waited for at once: a shell
# function called from a "||" list would run with errexit switched off, while
# a background job keeps errexit, so a failing line inside a function still
# ends that function.
run() {
	local errfile rc=0 line
	errfile=$(mktemp)
	"$@" 2>"$errfile" &
	wait "$!" || rc=$?
	while IFS= read -r line || [[ -n $line ]]; do
		if ((rc != 0)); then
			log_error "$1: $line"
		else
			log_warn "$1: $line"
		fi
	done <"$errfile"
	rm -f "$errfile"
	if ((rc != 0)); then
		log_error "$1 exited with status $rc"
	fi
	return "$rc"
}

# require_tools NAME... fails when a program is missing.
require_tools() {
	local tool missing=()
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	if ((${#missing[@]} > 0)); then
		die "missing programs: ${missing[*]}; run the steps in scripts/setup.d first"
	fi
}

# add_postgres_bin_to_path makes the PostgreSQL programs reachable when they
# are installed in the Debian folder but not on PATH.
add_postgres_bin_to_path() {
	local dir
	if command -v pg_dump >/dev/null 2>&1 && command -v pg_restore >/dev/null 2>&1; then
		return 0
	fi
	for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4 -rn); do
		if [[ -x $dir/pg_dump ]]; then
			PATH=$PATH:$dir
			export PATH
			return 0
		fi
	done
}

# human_size BYTES prints a size such as "12.3 MiB".
human_size() {
	awk -v b="$1" 'BEGIN {
		split("B KiB MiB GiB TiB", unit, " ")
		i = 1
		while (b >= 1024 && i < 5) { b /= 1024; i++ }
		printf (i == 1 ? "%d %s" : "%.1f %s"), b, unit[i]
	}'
}

file_size() {
	stat -c %s -- "$1"
}

file_mtime() {
	stat -c %Y -- "$1"
}

# write_checksum FILE writes FILE.sha256 in the format of sha256sum, naming
# the file without its folder so that the pair can be moved together.
write_checksum() {
	local file=$1 hash
	hash=$(sha256sum -- "$file" | cut -d' ' -f1)
	printf '%s  %s\n' "$hash" "$(basename -- "$file")" >"$file.sha256.partial"
	mv -f -- "$file.sha256.partial" "$file.sha256"
}

# expected_checksum FILE prints the hash recorded in FILE.sha256, or fails.
expected_checksum() {
	local sumfile=$1.sha256 hash
	[[ -f $sumfile ]] || return 1
	hash=$(head -n1 -- "$sumfile" | cut -d' ' -f1)
	[[ $hash =~ ^[0-9a-f]{64}$ ]] || return 1
	printf '%s\n' "$hash"
}

# checksum_matches FILE succeeds when FILE hashes to what FILE.sha256 records.
checksum_matches() {
	local file=$1 expected actual
	[[ -f $file ]] || return 1
	expected=$(expected_checksum "$file") || return 1
	actual=$(sha256sum -- "$file" | cut -d' ' -f1)
	[[ $actual == "$expected" ]]
}

# verify_checksum FILE logs the outcome of checksum_matches and fails when the
# checksum file is missing or does not match.
verify_checksum() {
	local file=$1
	if [[ ! -f $file.sha256 ]]; then
		die "no checksum file next to $file (expected $file.sha256)"
	fi
	if ! checksum_matches "$file"; then
		die "checksum mismatch: $file does not match $file.sha256; the file is damaged"
	fi
	log "checksum ok: $(basename -- "$file")"
}

# backup_kind FILE prints "db" or "files" for the name of a backup file.
backup_kind() {
	case $(basename -- "$1") in
	*.dump) echo db ;;
	*.tar.gz) echo files ;;
	*) return 1 ;;
	esac
}

# backup_stamp FILE prints the stamp in the name of a backup file, if any.
backup_stamp() {
	local name
	name=$(basename -- "$1")
	if [[ $name =~ ^comanda-(db|uploads)-(${STAMP_REGEX})\.(dump|tar\.gz)$ ]]; then
		printf '%s\n' "${BASH_REMATCH[2]}"
	else
		return 1
	fi
}

# newest_file DIR GLOB prints the most recently modified file in DIR whose
# name matches GLOB, if any.
newest_file() {
	[[ -d $1 ]] || return 0
	# awk reads to the end, so sort never meets a closed pipe.
	find "$1" -maxdepth 1 -type f -name "$2" -printf '%T@ %p\n' |
		sort -rn | awk 'NR == 1 { sub(/^[^ ]* /, ""); print }'
}

# archive_dir DIR FILE writes a gzip-compressed tar of the contents of DIR
# (paths relative to DIR) to FILE, through a partial file so that FILE only
# ever appears complete.
archive_dir() {
	local dir=$1 file=$2
	tar -C "$dir" -czf "$file.partial" .
	mv -f -- "$file.partial" "$file"
}

# dump_database URL FILE writes a compressed custom-format dump to FILE,
# through a partial file so that FILE only ever appears complete.
dump_database() {
	local url=$1 file=$2
	pg_dump --no-password --format=custom --compress=6 --file="$file.partial" --dbname="$url"
	mv -f -- "$file.partial" "$file"
}
