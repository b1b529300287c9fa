#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
#
# backup.sh: back up the database and the uploads directory, verify what was
# written, optionally copy it to S3-compatible storage, delete old backups and
# report the outcome. Run it from cron or a timer; see --help.
set -Eeuo pipefail
# Backups hold personal data: only their owner may read them.
umask 077

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
LOG_TAG=backup.sh
# shellcheck source=lib/common.sh
source "$SCRIPT_DIR/lib/common.sh"
# shellcheck source=lib/pg.sh
source "$SCRIPT_DIR/lib/pg.sh"
# shellcheck source=lib/notify.sh
source "$SCRIPT_DIR/lib/notify.sh"
# shellcheck source=lib/s3.sh
source "$SCRIPT_DIR/lib/s3.sh"

usage() {
	cat <<'EOF'
Usage: backup.sh [options]

Backs up the database (pg_dump, custom format, compressed) and the uploads
directory (tar.gz) into the destination as
  comanda-db-<UTC stamp>.dump and comanda-uploads-<UTC stamp>.tar.gz,
each with a .sha256 file. Every backup is verified: its checksum, and
pg_restore --list for the dump (which must hold the events table's rows).

Options:
  --db-only             back up the database only
  --files-only          back up the uploads directory only
  --dest DIR            destination folder (BACKUP_DIR, default ./backups)
  --verify-restore      also restore the dump into a scratch database, compare
                        its number of events with the source, and drop it
                        (needs the CREATEDB privilege)
  --retention-days N    delete backups older than N days, never the newest of
                        each kind (BACKUP_RETENTION_DAYS, default 7)
  --dry-run             check the configuration and show what would be done,
                        changing nothing
  -h, --help            show this help

Environment:
  DATABASE_URL          database to back up (URI or keyword/value string)
  UPLOADS_DIR           uploads directory (default ./uploads)
  BACKUP_LOG_FILE       log file (default <dest>/backup.log)
  S3_BUCKET             when set, copy the backup to this bucket with rclone and
                        check it by downloading it again; also S3_ENDPOINT (empty
                        for AWS), S3_PREFIX, S3_REGION, AWS_ACCESS_KEY_ID,
                        AWS_SECRET_ACCESS_KEY. Deleting old objects is left to
                        the bucket's lifecycle rules.
  SLACK_WEBHOOK_URL     when set, post the outcome to this incoming webhook
  SMTP_URL              when set (smtp://host:port), email the outcome from
                        SMTP_FROM to SMTP_TO (comma-separated); SMTP_USER and
                        SMTP_PASSWORD when the server needs them

Only one backup runs at a time per destination: a second one fails at once
(flock on <dest>/.backup.lock). The exit status is 0 on success, 1 when a
step failed (the log names it) and 2 for a mistake on the command line.
EOF
}

DEST=${BACKUP_DIR:-./backups}
UPLOADS_DIR=${UPLOADS_DIR:-./uploads}
RETENTION_DAYS=${BACKUP_RETENTION_DAYS:-7}
WANT_DB=true
WANT_FILES=true
DRY_RUN=false
VERIFY_RESTORE=false

parse_args() {
	while (($# > 0)); do
		case $1 in
		--db-only) WANT_FILES=false ;;
		--files-only) WANT_DB=false ;;
		--dest)
			(($# >= 2)) || usage_error "--dest needs a folder"
			DEST=$2
			shift
			;;
		--dest=*) DEST=${1#*=} ;;
		--retention-days)
			(($# >= 2)) || usage_error "--retention-days needs a number"
			RETENTION_DAYS=$2
			shift
			;;
		--retention-days=*) RETENTION_DAYS=${1#*=} ;;
		--verify-restore) VERIFY_RESTORE=true ;;
		--dry-run) DRY_RUN=true ;;
		-h | --help)
			usage
			exit 0
			;;
		*) usage_error "unknown argument: $1" ;;
		esac
		shift
	done

	if [[ $WANT_DB == false && $WANT_FILES == false ]]; then
		usage_error "--db-only and --files-only exclude each other"
	fi
	[[ $RETENTION_DAYS =~ ^[0-9]+$ ]] ||
		usage_error "retention must be a whole number of days, not '$RETENTION_DAYS'"
	[[ -n $DEST ]] || usage_error "the destination folder is empty"
	if [[ $WANT_DB == true && -z ${DATABASE_URL:-} ]]; then
		usage_error "DATABASE_URL is not set (or pass --files-only)"
	fi
	if [[ $VERIFY_RESTORE == true && $WANT_DB == false ]]; then
		usage_error "--verify-restore needs a database backup"
	fi
}

# Set while a backup runs, for the cleanup on exit.
STAMP=''
SCRATCH_DB=''
RESULTS=()

main() {
	parse_args "$@"
	add_postgres_bin_to_path
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	if [[ $DRY_RUN == true ]]; then
		dry_run
		return
	fi

	prepare
	if [[ $WANT_DB == true ]]; then
		backup_database
	fi
	if [[ $WANT_FILES == true ]]; then
		backup_files
	fi
	if [[ -n ${S3_BUCKET:-} ]]; then
		upload_to_s3
	fi
	apply_retention

	local summary
	summary=$(printf '%s, ' "${RESULTS[@]}")
	summary=${summary%, }
	step notify "backup ${STAMP} finished: ${summary}"
	if ! notify succeeded "backup ${STAMP} succeeded on $(uname -n): ${summary}"; then
		die "the backup succeeded but a notification could not be sent"
	fi
	CURRENT_STEP=finished
}

# on_exit drops a scratch database left by a failed verification, removes
# partial files, and reports a failure on every configured channel.
on_exit() {
	local rc=$?
	trap - EXIT
	if [[ -n $SCRATCH_DB ]]; then
		drop_scratch_database || true
	fi
	if [[ -n $STAMP && -d $DEST ]]; then
		rm -f -- "$DEST"/*"$STAMP"*.partial
	fi
	if ((rc != 0)) && [[ $DRY_RUN == false && $CURRENT_STEP != notify ]]; then
		local failed_step=$CURRENT_STEP
		log_error "backup failed at step '${failed_step}' (exit status ${rc})"
		notify failed "backup ${STAMP:-} FAILED on $(uname -n) at step '${failed_step}';" \
			"see ${LOG_FILE:-the log}" || true
		CURRENT_STEP=$failed_step
	elif ((rc != 0)); then
		log_error "backup failed at step '${CURRENT_STEP}' (exit status ${rc})"
	fi
	exit "$rc"
}

# prepare creates the destination, takes the lock and checks the tools.
prepare() {
	mkdir -p -- "$DEST"
	DEST=$(cd -- "$DEST" && pwd)
	LOG_FILE=${BACKUP_LOG_FILE:-$DEST/backup.log}
	mkdir -p -- "$(dirname -- "$LOG_FILE")"

	step lock "taking the lock on $DEST/.backup.lock"
	exec {LOCK_FD}>>"$DEST/.backup.lock"
	if ! flock --nonblock "$LOCK_FD"; then
		die "another backup is running on $DEST (it holds $DEST/.backup.lock)"
	fi

	step prepare "checking programs and settings"
	local -a tools=(sha256sum tar flock)
	[[ $WANT_DB == true ]] && tools+=(pg_dump pg_restore psql)
	[[ -n ${S3_BUCKET:-} ]] && tools+=(rclone)
	[[ -n ${SLACK_WEBHOOK_URL:-}${SMTP_URL:-} ]] && tools+=(curl)
	require_tools "${tools[@]}"
	if [[ $WANT_FILES == true && ! -d $UPLOADS_DIR ]]; then
		die "uploads directory $UPLOADS_DIR does not exist (set UPLOADS_DIR, or pass --db-only)"
	fi

	# Left by a run that was killed; the lock guarantees no other run writes them.
	find "$DEST" -maxdepth 1 -name '*.partial' -type f -delete

	STAMP=$(utc_stamp)
	while [[ -e $DEST/$(db_backup_name "$STAMP") || -e $DEST/$(files_backup_name "$STAMP") ]]; do
		sleep 1
		STAMP=$(utc_stamp)
	done
	log "backup ${STAMP} into ${DEST}"
}

backup_database() {
	local file events_before
	file=$DEST/$(db_backup_name "$STAMP")

	step dump "dumping $(redact_url "$DATABASE_URL")"
	# Events are only ever appended, so the dump holds at least as many as
	# counted before it starts and at most as many as counted after it ends.
	if [[ $VERIFY_RESTORE == true ]]; then
		events_before=$(run count_events "$DATABASE_URL")
	fi
	run dump_database "$DATABASE_URL" "$file"
	log "wrote $file ($(human_size "$(file_size "$file")"))"

	step checksum-db "writing and checking $file.sha256"
	write_checksum "$file"
	verify_checksum "$file"

	step verify-db "checking the dump's table of contents"
	local entries
	entries=$(run pg_restore --list -- "$file" | grep -cv '^;' || true)
	run dump_lists_events_data "$file" ||
		die "the dump lists no rows for the events table"
	log "pg_restore --list reads ${entries} entries, including the events table's rows"

	if [[ $VERIFY_RESTORE == true ]]; then
		verify_restore "$file" "$events_before"
	fi
	RESULTS+=("$(basename -- "$file") ($(human_size "$(file_size "$file")"))")
}

# verify_restore DUMP EVENTS_BEFORE restores the dump into a scratch
# database on the same server and compares the number of events.
verify_restore() {
	local file=$1 before=$2 restored after scratch_url
	step verify-restore "restoring into a scratch database"
	SCRATCH_DB="comanda_verify_${STAMP,,}_$$"
	scratch_url=$(url_with_database "$DATABASE_URL" "$SCRATCH_DB")
	run psql_run "$DATABASE_URL" "CREATE DATABASE $(sql_ident "$SCRATCH_DB")"
	run pg_restore --no-password --no-owner --no-privileges --exit-on-error \
		--dbname="$scratch_url" -- "$file"

	restored=$(run count_events "$scratch_url")
	after=$(run count_events "$DATABASE_URL")
	if ((restored < before || restored > after)); then
		die "the scratch database holds ${restored} events;" \
			"the source held ${before} before the dump and ${after} after it"
	fi
	log "the scratch database ${SCRATCH_DB} holds ${restored} events" \
		"(source: ${before} before the dump, ${after} after)"
	drop_scratch_database
}

drop_scratch_database() {
	run psql_run "$DATABASE_URL" "DROP DATABASE IF EXISTS $(sql_ident "$SCRATCH_DB") WITH (FORCE)"
	log "dropped the scratch database ${SCRATCH_DB}"
	SCRATCH_DB=''
}

backup_files() {
	local file entries
	file=$DEST/$(files_backup_name "$STAMP")

	step archive-uploads "archiving ${UPLOADS_DIR}"
	run archive_dir "$UPLOADS_DIR" "$file"
	log "wrote $file ($(human_size "$(file_size "$file")"))"

	step checksum-uploads "writing and checking $file.sha256"
	write_checksum "$file"
	verify_checksum "$file"

	step verify-uploads "reading the archive back"
	entries=$(run tar -tzf "$file" | wc -l)
	log "the archive reads back with ${entries} entries"
	RESULTS+=("$(basename -- "$file") ($(human_size "$(file_size "$file")"))")
}

upload_to_s3() {
	local file key name
	step upload-s3 "copying to s3://${S3_BUCKET}/$(s3_key '')"
	for name in "$(db_backup_name "$STAMP")" "$(files_backup_name "$STAMP")"; do
		file=$DEST/$name
		[[ -f $file ]] || continue
		key=$(s3_key "$name")
		run s3_upload "$file" "$S3_BUCKET" "$key"
		run s3_upload "$file.sha256" "$S3_BUCKET" "$key.sha256"
		log "uploaded s3://${S3_BUCKET}/${key} and its .sha256"

		step verify-s3 "downloading s3://${S3_BUCKET}/${key} again"
		run s3_verify_upload "$file" "$S3_BUCKET" "$key"
		run s3_verify_sumfile "$file" "$S3_BUCKET" "$key.sha256"
		log "s3://${S3_BUCKET}/${key} matches its checksum"
		CURRENT_STEP=upload-s3
	done
}

# s3_verify_sumfile FILE BUCKET KEY compares the uploaded checksum file with
# the local one.
s3_verify_sumfile() {
	local tmp
	tmp=$(mktemp -d "$(dirname -- "$1")/.verify-s3.XXXXXX")
	s3_download "$2" "$3" "$tmp/sum"
	if ! cmp -s -- "$1.sha256" "$tmp/sum"; then
		rm -rf -- "$tmp"
		echo "s3://$2/$3 differs from $1.sha256" >&2
		return 1
	fi
	rm -rf -- "$tmp"
}

# apply_retention deletes backups older than RETENTION_DAYS days, with their
# checksum files, keeping the newest backup of each kind whatever its age. It
# runs under the lock taken in prepare, so never while another backup runs.
apply_retention() {
	step retention "deleting backups older than ${RETENTION_DAYS} days, never the newest"
	local file deleted=0
	while IFS= read -r file; do
		rm -f -- "$file" "$file.sha256"
		log "deleted $(basename -- "$file") and its checksum"
		deleted=$((deleted + 1))
	done < <(expired_backups false false)
	log "deleted ${deleted} old backups"
}

# expired_backups KEEP_ALL_DB KEEP_ALL_FILES lists the backups in DEST older
# than the retention period, leaving out the newest of each kind. With
# KEEP_ALL_<kind> true the newest of that kind is listed too, when old
# enough, for a dry run that is about to add a newer one.
expired_backups() {
	local all_db=$1 all_files=$2 cutoff glob all file
	local -a files
	cutoff=$(($(date +%s) - RETENTION_DAYS * 86400))
	for glob in "$DB_BACKUP_GLOB" "$FILES_BACKUP_GLOB"; do
		all=$all_files
		[[ $glob == "$DB_BACKUP_GLOB" ]] && all=$all_db
		mapfile -t files < <(find "$DEST" -maxdepth 1 -type f -name "$glob" -printf '%T@ %p\n' |
			sort -rn | cut -d' ' -f2-)
		((${#files[@]} > 0)) || continue
		[[ $all == true ]] || files=("${files[@]:1}")
		for file in "${files[@]}"; do
			if (($(file_mtime "$file") < cutoff)); then
				printf '%s\n' "$file"
			fi
		done
	done
}

# dry_run checks what a real run needs and lists what it would do.
dry_run() {
	CURRENT_STEP=dry-run
	log "dry run: nothing is written or deleted"
	local -a tools=(sha256sum tar flock)
	[[ $WANT_DB == true ]] && tools+=(pg_dump pg_restore psql)
	[[ -n ${S3_BUCKET:-} ]] && tools+=(rclone)
	[[ -n ${SLACK_WEBHOOK_URL:-}${SMTP_URL:-} ]] && tools+=(curl)
	require_tools "${tools[@]}"

	local stamp
	stamp=$(utc_stamp)
	if [[ $WANT_DB == true ]]; then
		local events
		events=$(run count_events "$DATABASE_URL")
		log "would dump $(redact_url "$DATABASE_URL") (${events} events)" \
			"to ${DEST}/$(db_backup_name "$stamp")"
		[[ $VERIFY_RESTORE == true ]] && log "would restore it into a scratch database and compare"
	fi
	if [[ $WANT_FILES == true ]]; then
		[[ -d $UPLOADS_DIR ]] || die "uploads directory $UPLOADS_DIR does not exist"
		log "would archive ${UPLOADS_DIR} to ${DEST}/$(files_backup_name "$stamp")"
	fi
	[[ -n ${S3_BUCKET:-} ]] && log "would upload to s3://${S3_BUCKET}/$(s3_key '')"
	if [[ -d $DEST ]]; then
		local file
		while IFS= read -r file; do
			log "would delete $(basename -- "$file") and its checksum"
		done < <(expired_backups "$WANT_DB" "$WANT_FILES")
	fi
	[[ -n ${SLACK_WEBHOOK_URL:-} ]] && log "would notify the Slack webhook"
	[[ -n ${SMTP_URL:-} ]] && log "would email ${SMTP_TO:-nobody}"
	return 0
}

main "$@"
