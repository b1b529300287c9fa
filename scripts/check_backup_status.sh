#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# check_backup_status.sh: report the age, size and checksum state of the
# newest backups, for a person, a monitoring check or the node exporter's
# textfile collector. See --help.
set -Eeuo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=check_backup_status.sh
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"

usage() {
	cat <<'EOF'
Usage: check_backup_status.sh [options]

Reports the newest database dump and the newest uploads archive in the backup
folder: age, size and whether it matches its .sha256 file. Exits with 1 when
no backup exists, or when the newest backup of a checked kind is older than
the threshold, lacks its checksum or fails it; 2 on a usage mistake.

Options:
  --dest DIR            backup folder (BACKUP_DIR, default ./backups)
  --max-age-hours N     threshold in hours (default 26)
  --kind KIND           check only this kind, db or uploads; may be repeated.
                        A kind asked for must exist. Without it, every kind
                        present is checked.
  --textfile PATH       also write the figures in the Prometheus text format,
                        one series per kind (label kind="db" or "uploads"):
                          backup_last_success_timestamp_seconds
                          backup_last_size_bytes
                          backup_checksum_ok (1 or 0)
                          backup_age_seconds (+Inf when there is none)
                        The file is replaced atomically.
  -h, --help            show this help
EOF
}

DEST=${BACKUP_DIR:-./backups}
MAX_AGE_HOURS=26
TEXTFILE=''
KINDS=()

parse_args() {
	while (($# > 0)); do
		case $1 in
		--dest)
			(($# >= 2)) || usage_error "--dest needs a folder"
			DEST=$2
			shift
			;;
		--dest=*) DEST=${1#*=} ;;
		--max-age-hours)
			(($# >= 2)) || usage_error "--max-age-hours needs a number"
			MAX_AGE_HOURS=$2
			shift
			;;
		--max-age-hours=*) MAX_AGE_HOURS=${1#*=} ;;
		--textfile)
			(($# >= 2)) || usage_error "--textfile needs a path"
			TEXTFILE=$2
			shift
			;;
		--textfile=*) TEXTFILE=${1#*=} ;;
		--kind)
			(($# >= 2)) || usage_error "--kind needs db or uploads"
			KINDS+=("$2")
			shift
			;;
		--kind=*) KINDS+=("${1#*=}") ;;
		-h | --help)
			usage
			exit 0
			;;
		*) usage_error "unknown argument: $1" ;;
		esac
		shift
	done
	[[ $MAX_AGE_HOURS =~ ^[0-9]+$ ]] ||
		usage_error "--max-age-hours must be a whole number, not '$MAX_AGE_HOURS'"
	local kind
	for kind in "${KINDS[@]}"; do
		[[ $kind == db || $kind == uploads ]] || usage_error "unknown kind: $kind"
	done
}

# Figures per kind, filled by inspect.
declare -A FOUND=() TIMESTAMP=() SIZE=() CHECKSUM_OK=() AGE=()

# inspect KIND GLOB looks at the newest backup of one kind.
inspect() {
	local kind=$1 glob=$2 file now
	file=$(newest_file "$DEST" "$glob")
	if [[ -z $file ]]; then
		FOUND[$kind]=''
		return
	fi
	now=$(date +%s)
	FOUND[$kind]=$file
	TIMESTAMP[$kind]=$(file_mtime "$file")
	SIZE[$kind]=$(file_size "$file")
	AGE[$kind]=$((now - TIMESTAMP[$kind]))
	if checksum_matches "$file"; then
		CHECKSUM_OK[$kind]=1
	else
		CHECKSUM_OK[$kind]=0
	fi
}

# format_age SECONDS prints an age such as "1d 2h 3m".
format_age() {
	local s=$1
	if ((s < 0)); then
		printf 'in the future'
	elif ((s >= 86400)); then
		printf '%dd %dh %dm' $((s / 86400)) $((s % 86400 / 3600)) $((s % 3600 / 60))
	else
		printf '%dh %dm' $((s / 3600)) $((s % 3600 / 60))
	fi
}

# metric NAME HELP ARRAY DEFAULT prints one gauge with a series per kind,
# taking the values from the associative array named ARRAY.
metric() {
	local name=$1 help=$2 default=$4 kind
	local -n values=$3
	printf '# HELP %s %s\n# TYPE %s gauge\n' "$name" "$help" "$name"
	for kind in db uploads; do
		printf '%s{kind="%s"} %s\n' "$name" "$kind" "${values[$kind]:-$default}"
	done
}

# write_textfile PATH writes the metrics of every kind, replacing PATH at once
# so that a collector never reads half a file.
write_textfile() {
	local path=$1 tmp
	mkdir -p -- "$(dirname -- "$path")"
	tmp=$(mktemp "$(dirname -- "$path")/.$(basename -- "$path").XXXXXX")
	{
		metric backup_last_success_timestamp_seconds \
			'Modification time of the newest backup file, in seconds since the epoch (0: none).' \
			TIMESTAMP 0
		metric backup_last_size_bytes \
			'Size of the newest backup file in bytes (0: none).' SIZE 0
		metric backup_checksum_ok \
			'Whether the newest backup file matches its .sha256 file (1) or not, or is missing (0).' \
			CHECKSUM_OK 0
		metric backup_age_seconds \
			'Age of the newest backup file in seconds (+Inf: none).' AGE +Inf
	} >"$tmp"
	chmod 644 -- "$tmp"
	mv -f -- "$tmp" "$path"
}

main() {
	parse_args "$@"
	CURRENT_STEP=check

	inspect db "$DB_BACKUP_GLOB"
	inspect uploads "$FILES_BACKUP_GLOB"

	local -a check=("${KINDS[@]}") problems=()
	local kind max_age=$((MAX_AGE_HOURS * 3600))
	if ((${#check[@]} == 0)); then
		for kind in db uploads; do
			[[ -n ${FOUND[$kind]} ]] && check+=("$kind")
		done
		((${#check[@]} > 0)) || problems+=("no backup in $DEST")
	fi

	for kind in db uploads; do
		if [[ -z ${FOUND[$kind]} ]]; then
			printf '%-8s none\n' "$kind"
			continue
		fi
		printf '%-8s %s  age %s (%s s)  size %s (%s bytes)  checksum %s\n' "$kind" \
			"$(basename -- "${FOUND[$kind]}")" "$(format_age "${AGE[$kind]}")" "${AGE[$kind]}" \
			"$(human_size "${SIZE[$kind]}")" "${SIZE[$kind]}" \
			"$( ((CHECKSUM_OK[$kind] == 1)) && echo ok || echo FAILED)"
	done

	for kind in "${check[@]}"; do
		if [[ -z ${FOUND[$kind]} ]]; then
			problems+=("no $kind backup in $DEST")
			continue
		fi
		if ((AGE[$kind] > max_age)); then
			problems+=("the newest $kind backup is older than ${MAX_AGE_HOURS} h")
		fi
		if ((CHECKSUM_OK[$kind] != 1)); then
			problems+=("the newest $kind backup fails its checksum or has none")
		fi
	done

	if [[ -n $TEXTFILE ]]; then
		write_textfile "$TEXTFILE"
	fi

	if ((${#problems[@]} > 0)); then
		local problem
		for problem in "${problems[@]}"; do
			printf 'FAIL: %s\n' "$problem"
		done
		exit 1
	fi
	echo "OK: newest backups are younger than ${MAX_AGE_HOURS} h and match their checksums"
}

main "$@"
