#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# restore.sh: restore a backup made by backup.sh, from a local file or from
# S3-compatible storage, after checking its checksum and taking a safety
# backup of what it replaces. See --help.
set -Eeuo pipefail
# Backups hold personal data: only their owner may read what is written here.
umask 077

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=restore.sh
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"
# shellcheck source=lib/pg.sh
source "$SCRIPT_DIR/lib/pg.sh"
# shellcheck source=lib/s3.sh
source "$SCRIPT_DIR/lib/s3.sh"

usage() {
	cat <<'EOF'
Usage: restore.sh [options] BACKUP
       restore.sh [options] --from-s3 KEY

BACKUP is a file written by backup.sh (comanda-db-<stamp>.dump or
comanda-uploads-<stamp>.tar.gz), a local path or an s3://bucket/key URL. The
other file of the same backup, with the same stamp, is found next to it. KEY
is an object key in S3_BUCKET; a bare file name is looked up under S3_PREFIX.

By default both the database and the uploads directory are restored.

Options:
  --db-only        restore the database only: it is dropped and created
                   again from the dump (connections to it are ended)
  --events-only    restore only the rows of the events table into the
                   existing schema, then rebuild every projection: empty the
                   read tables listed in projection_tables and delete every
                   checkpoint in projection_offsets, all in one transaction
  --files-only     restore the uploads directory only
  --force          replace a database that holds events, or a non-empty
                   uploads directory
  --from-s3 KEY    restore the backup stored under KEY in S3_BUCKET
  --safety-dir DIR where the safety backup of what is replaced goes
                   (RESTORE_SAFETY_DIR, default <BACKUP_DIR or ./backups>/pre-restore)
  -h, --help       show this help

Environment:
  DATABASE_URL     database to restore into; it is created when missing
                   (through the maintenance database PG_MAINTENANCE_DB,
                   default postgres)
  UPLOADS_DIR      uploads directory (default ./uploads)
  RESTORE_LOG_FILE log file (default <safety dir>/restore.log)
  S3_ENDPOINT, S3_BUCKET, S3_PREFIX, S3_REGION, AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY for backups stored in S3-compatible storage

Checksums are verified before anything changes. Objects are restored without
their owners and privileges, so the connecting role owns them afterwards.
Every restore renumbers the restored events' transaction ids so that
projectors see the restored log and new events: see lib/pg.sh.
EOF
}

FORCE=false
MODE=all # all, db, events or files
SOURCE=''
FROM_S3=''
UPLOADS_DIR=${UPLOADS_DIR:-./uploads}
SAFETY_DIR=${RESTORE_SAFETY_DIR:-${BACKUP_DIR:-./backups}/pre-restore}

parse_args() {
	local only=0
	while (($# > 0)); do
		case $1 in
		--db-only)
			MODE=db
			only=$((only + 1))
			;;
		--events-only)
			MODE=events
			only=$((only + 1))
			;;
		--files-only)
			MODE=files
			only=$((only + 1))
			;;
		--force) FORCE=true ;;
		--from-s3)
			(($# >= 2)) || usage_error "--from-s3 needs a key"
			FROM_S3=$2
			shift
			;;
		--from-s3=*) FROM_S3=${1#*=} ;;
		--safety-dir)
			(($# >= 2)) || usage_error "--safety-dir needs a folder"
			SAFETY_DIR=$2
			shift
			;;
		--safety-dir=*) SAFETY_DIR=${1#*=} ;;
		-h | --help)
			usage
			exit 0
			;;
		-*) usage_error "unknown option: $1" ;;
		*)
			[[ -z $SOURCE ]] || usage_error "only one backup can be restored at a time"
			SOURCE=$1
			;;
		esac
		shift
	done

	((only <= 1)) || usage_error "--db-only, --events-only and --files-only exclude each other"
	if [[ -n $FROM_S3 && -n $SOURCE ]]; then
		usage_error "give either a backup or --from-s3 KEY, not both"
	fi
	[[ -n $FROM_S3 || -n $SOURCE ]] || usage_error "no backup given"
	if [[ $MODE != files && -z ${DATABASE_URL:-} ]]; then
		usage_error "DATABASE_URL is not set"
	fi
}

# Set as the restore goes, for the report and the cleanup on exit.
WORK_DIR=''
DB_FILE=''
FILES_FILE=''
TARGET_DB=''
TARGET_EXISTS=f
MAINTENANCE_URL=''
SAFETY_BACKUPS=()

main() {
	parse_args "$@"
	add_postgres_bin_to_path
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	mkdir -p -- "$SAFETY_DIR"
	SAFETY_DIR=$(cd -- "$SAFETY_DIR" && pwd)
	LOG_FILE=${RESTORE_LOG_FILE:-$SAFETY_DIR/restore.log}
	# Downloads go here, on the backup disk rather than in a small /tmp.
	WORK_DIR=$(mktemp -d "$SAFETY_DIR/.restore.XXXXXX")

	fetch_backup
	verify_backup
	inspect_targets
	take_safety_backup

	case $MODE in
	all)
		restore_database
		restore_files
		;;
	db) restore_database ;;
	events) restore_events ;;
	files) restore_files ;;
	esac

	step finished "restore finished"
	report_safety_backups
}

on_exit() {
	local rc=$?
	trap - EXIT
	if [[ -n $WORK_DIR ]]; then
		rm -rf -- "$WORK_DIR"
	fi
	if ((rc != 0)); then
		log_error "restore failed at step '${CURRENT_STEP}' (exit status ${rc})"
		report_safety_backups
	fi
	exit "$rc"
}

report_safety_backups() {
	local file
	for file in "${SAFETY_BACKUPS[@]}"; do
		log "safety backup of the state before the restore: $file"
	done
}

needs_db() {
	[[ $MODE != files ]]
}

needs_files() {
	[[ $MODE == all || $MODE == files ]]
}

# fetch_backup finds the files to restore and, for a backup in S3, downloads
# them with their checksum files.
fetch_backup() {
	step locate "looking for the backup files"
	local bucket='' key='' name dir stamp
	if [[ -n $FROM_S3 ]]; then
		bucket=${S3_BUCKET:-}
		[[ -n $bucket ]] || die "--from-s3 needs S3_BUCKET"
		key=$FROM_S3
		[[ $key == */* ]] || key=$(s3_key "$key")
	elif [[ $SOURCE == s3://* ]]; then
		local rest=${SOURCE#s3://}
		bucket=${rest%%/*}
		key=${rest#*/}
		[[ -n $bucket && -n $key && $rest == */* ]] || die "not an s3://bucket/key URL: $SOURCE"
	fi

	if [[ -n $bucket ]]; then
		require_tools rclone
		name=$(basename -- "$key")
		stamp=$(backup_stamp "$name") || die "not the name of a backup file: $name"
		local keydir=''
		[[ $key == */* ]] && keydir=${key%/*}/
		local want
		for want in $(wanted_names "$stamp"); do
			step download "downloading s3://${bucket}/${keydir}${want}"
			run s3_download "$bucket" "${keydir}${want}" "$WORK_DIR/$want" ||
				die "could not download s3://${bucket}/${keydir}${want}"
			run s3_download "$bucket" "${keydir}${want}.sha256" "$WORK_DIR/$want.sha256" ||
				die "could not download s3://${bucket}/${keydir}${want}.sha256"
		done
		dir=$WORK_DIR
	else
		[[ -f $SOURCE ]] || die "no such backup file: $SOURCE"
		dir=$(cd -- "$(dirname -- "$SOURCE")" && pwd)
		name=$(basename -- "$SOURCE")
		stamp=$(backup_stamp "$name") || stamp=''
	fi

	if [[ -z $stamp ]]; then
		# A renamed file can still be restored alone, by its kind.
		case $(backup_kind "$name") in
		db) needs_files && die "$name is a database dump; pass --db-only or --events-only" ;;
		files) needs_db && die "$name is an uploads archive; pass --files-only" ;;
		*) die "$name is neither a .dump nor a .tar.gz backup" ;;
		esac
		if needs_db; then DB_FILE=$dir/$name; else FILES_FILE=$dir/$name; fi
	else
		needs_db && DB_FILE=$dir/$(db_backup_name "$stamp")
		needs_files && FILES_FILE=$dir/$(files_backup_name "$stamp")
	fi

	if needs_db && [[ ! -f $DB_FILE ]]; then
		die "backup ${stamp} has no database dump ($DB_FILE); pass --files-only"
	fi
	if needs_files && [[ ! -f $FILES_FILE ]]; then
		die "backup ${stamp} has no uploads archive ($FILES_FILE); pass --db-only"
	fi
	log "restoring: ${DB_FILE:+$DB_FILE }${FILES_FILE}"
}

# wanted_names STAMP lists the backup files the chosen mode needs.
wanted_names() {
	needs_db && db_backup_name "$1" && echo
	needs_files && files_backup_name "$1" && echo
	return 0
}

# verify_backup checks every file before anything changes.
verify_backup() {
	step verify "checking checksums"
	if [[ -n $DB_FILE ]]; then
		verify_checksum "$DB_FILE"
		run dump_lists_events_data "$DB_FILE" ||
			die "$DB_FILE holds no rows for the events table"
	fi
	if [[ -n $FILES_FILE ]]; then
		verify_checksum "$FILES_FILE"
		run tar -tzf "$FILES_FILE" >/dev/null
	fi
}

# inspect_targets refuses to replace data without --force.
inspect_targets() {
	step inspect "looking at what the restore would replace"
	if needs_db; then
		TARGET_DB=$(url_database "$DATABASE_URL") ||
			die "DATABASE_URL names no database"
		MAINTENANCE_URL=$(url_with_database "$DATABASE_URL" "${PG_MAINTENANCE_DB:-postgres}")
		TARGET_EXISTS=$(run database_exists "$MAINTENANCE_URL" "$TARGET_DB")
		if [[ $TARGET_EXISTS == t ]]; then
			local events
			events=$(run events_rows "$DATABASE_URL")
			log "database ${TARGET_DB} exists and holds ${events} events"
			if ((events > 0)) && [[ $FORCE != true ]]; then
				die "database ${TARGET_DB} holds ${events} events; pass --force to replace them" \
					"(a safety backup is taken first)"
			fi
		elif [[ $MODE == events ]]; then
			die "database ${TARGET_DB} does not exist; --events-only restores into an existing schema"
		else
			log "database ${TARGET_DB} does not exist; it will be created"
		fi
		if [[ $MODE == events ]]; then
			local has_table
			has_table=$(run psql_value "$DATABASE_URL" \
				"SELECT to_regclass('projection_tables') IS NOT NULL AND to_regclass('events') IS NOT NULL")
			[[ $has_table == t ]] ||
				die "database ${TARGET_DB} lacks the events or projection_tables table; migrate it first"
		fi
	fi
	if needs_files && [[ -d $UPLOADS_DIR ]] && [[ -n $(ls -A -- "$UPLOADS_DIR") ]]; then
		log "uploads directory ${UPLOADS_DIR} is not empty"
		if [[ $FORCE != true ]]; then
			die "uploads directory ${UPLOADS_DIR} is not empty; pass --force to replace it" \
				"(a safety backup is taken first)"
		fi
	fi
}

# take_safety_backup saves what the restore is about to replace.
take_safety_backup() {
	local stamp file
	stamp=$(utc_stamp)
	while [[ -e $SAFETY_DIR/$(db_backup_name "$stamp") ||
		-e $SAFETY_DIR/$(files_backup_name "$stamp") ]]; do
		sleep 1
		stamp=$(utc_stamp)
	done

	if needs_db && [[ $TARGET_EXISTS == t ]]; then
		file=$SAFETY_DIR/$(db_backup_name "$stamp")
		step safety-backup "dumping database ${TARGET_DB} before replacing it"
		run dump_database "$DATABASE_URL" "$file"
		write_checksum "$file"
		verify_checksum "$file"
		SAFETY_BACKUPS+=("$file")
		log "safety backup: $file"
	fi
	if needs_files && [[ -d $UPLOADS_DIR ]] && [[ -n $(ls -A -- "$UPLOADS_DIR") ]]; then
		file=$SAFETY_DIR/$(files_backup_name "$stamp")
		step safety-backup "archiving ${UPLOADS_DIR} before replacing it"
		run archive_dir "$UPLOADS_DIR" "$file"
		write_checksum "$file"
		verify_checksum "$file"
		SAFETY_BACKUPS+=("$file")
		log "safety backup: $file"
	fi
}

# restore_database replaces the whole database with the dump's.
restore_database() {
	local target
	target=$(sql_ident "$TARGET_DB")
	step recreate-db "dropping and creating database ${TARGET_DB}"
	run psql_run "$MAINTENANCE_URL" "DROP DATABASE IF EXISTS ${target} WITH (FORCE)"
	run psql_run "$MAINTENANCE_URL" "CREATE DATABASE ${target}"

	step restore-db "restoring $(basename -- "$DB_FILE")"
	run pg_restore --no-password --no-owner --no-privileges --exit-on-error \
		--single-transaction --dbname="$DATABASE_URL" -- "$DB_FILE"

	# The restored transaction ids may be ahead of this cluster's counter,
	# which would hide every event from projectors: they all become 1, and
	# the checkpoints are moved to match, in one transaction. Why this is
	# safe is explained next to RENUMBER_TRANSACTIONS_SQL in lib/pg.sh.
	step renumber "renumbering the restored events' transaction ids"
	run psql_in_transaction "$DATABASE_URL" "$RENUMBER_TRANSACTIONS_SQL"
	log "database ${TARGET_DB} restored with $(run count_events "$DATABASE_URL") events"
}

# restore_events replaces the rows of events in one transaction: it empties
# the table, loads the dump's rows, renumbers their transaction ids, and
# rebuilds every projection.
restore_events() {
	step restore-events "replacing the events of ${TARGET_DB} with those of $(basename -- "$DB_FILE")"
	run load_events
	log "database ${TARGET_DB} holds $(run count_events "$DATABASE_URL") events;" \
		"every projection will be rebuilt"
}

# load_events streams the whole change to psql as one explicit transaction.
# COMMIT is sent only after pg_restore has succeeded: should pg_restore stop
# half way, psql reaches the end of its input with the transaction still
# open, and the server rolls it back.
load_events() {
	{
		printf 'BEGIN;\nTRUNCATE events;\n'
		pg_restore --data-only --table=events --file=- -- "$DB_FILE" || exit 1
		# The dump's preamble empties search_path; the statements below use
		# the session's own.
		printf 'RESET search_path;\n'
		printf '%s\n' "$RENUMBER_TRANSACTIONS_SQL" "$RESET_PROJECTIONS_SQL" 'COMMIT;'
	} | psql --no-psqlrc --no-password --quiet --set=ON_ERROR_STOP=1 \
		--dbname="$DATABASE_URL" --file=- >/dev/null
}

# psql_in_transaction URL SQL runs SQL in one transaction.
psql_in_transaction() {
	psql --no-psqlrc --no-password --quiet --set=ON_ERROR_STOP=1 --single-transaction \
		--dbname="$1" --command="$2" >/dev/null
}

# restore_files extracts the archive next to the uploads directory and then
# swaps it in, so the directory is never half restored. A directory that is a
# mount point cannot be swapped: it is emptied and the archive extracted into
# it (the safety backup holds what it held).
restore_files() {
	local parent base fresh old
	step restore-files "restoring ${UPLOADS_DIR} from $(basename -- "$FILES_FILE")"
	mkdir -p -- "$(dirname -- "$UPLOADS_DIR")"
	parent=$(cd -- "$(dirname -- "$UPLOADS_DIR")" && pwd)
	base=$(basename -- "$UPLOADS_DIR")

	if mountpoint -q -- "$parent/$base" 2>/dev/null; then
		log "${UPLOADS_DIR} is a mount point: emptying it and extracting in place"
		find "$parent/$base" -mindepth 1 -delete
		run tar -C "$parent/$base" --preserve-permissions -xzf "$FILES_FILE"
	else
		fresh=$(mktemp -d "$parent/.${base}.restore.XXXXXX")
		# The archive's root entry gives the folder back its original mode.
		if ! run tar -C "$fresh" --preserve-permissions -xzf "$FILES_FILE"; then
			rm -rf -- "$fresh"
			die "could not extract $FILES_FILE"
		fi
		if [[ -e $parent/$base ]]; then
			old=$(mktemp -d "$parent/.${base}.old.XXXXXX")
			mv -- "$parent/$base" "$old/"
			mv -- "$fresh" "$parent/$base"
			rm -rf -- "$old"
		else
			mv -- "$fresh" "$parent/$base"
		fi
	fi
	log "restored ${UPLOADS_DIR} ($(find "$parent/$base" -type f | wc -l) files)"
}

main "$@"
