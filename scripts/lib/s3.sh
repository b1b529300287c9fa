# shellcheck shell=bash
# S3-compatible storage through rclone, configured from the environment
# alone (no rclone config file): S3_ENDPOINT (empty for AWS), S3_BUCKET,
# S3_PREFIX, S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
# optionally AWS_SESSION_TOKEN. Sourcing this file runs nothing.

# s3_key NAME prints the object key of a backup file: S3_PREFIX/NAME.
s3_key() {
	local prefix=${S3_PREFIX:-}
	prefix=${prefix#/}
	prefix=${prefix%/}
	if [[ -n $prefix ]]; then
		printf '%s/%s\n' "$prefix" "$1"
	else
		printf '%s\n' "$1"
	fi
}

# s3_rclone ARGS... runs rclone with the S3 settings taken from the
# environment. Secrets travel in rclone's own environment variables, never on
# the command line.
s3_rclone() {
	local -a extra=()
	# rclone's AWS client rejects AWS_CA_BUNDLE; the same bundle is handed to
	# rclone's own option instead.
	if [[ -n ${AWS_CA_BUNDLE:-} ]]; then
		extra+=(--ca-cert "$AWS_CA_BUNDLE")
	fi
	local provider=AWS
	[[ -n ${S3_ENDPOINT:-} ]] && provider=Other
	env -u AWS_CA_BUNDLE \
		RCLONE_S3_PROVIDER="$provider" \
		RCLONE_S3_ENDPOINT="${S3_ENDPOINT:-}" \
		RCLONE_S3_REGION="${S3_REGION:-us-east-1}" \
		RCLONE_S3_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-}" \
		RCLONE_S3_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-}" \
		RCLONE_S3_SESSION_TOKEN="${AWS_SESSION_TOKEN:-}" \
		RCLONE_S3_FORCE_PATH_STYLE=true \
		RCLONE_S3_NO_CHECK_BUCKET=true \
		rclone --config '' --retries 3 --low-level-retries 5 "${extra[@]}" "$@"
}

# s3_upload FILE BUCKET KEY uploads FILE to BUCKET/KEY.
s3_upload() {
	s3_rclone copyto -- "$1" ":s3:$2/$3"
}

# s3_download BUCKET KEY FILE downloads BUCKET/KEY to FILE and fails when the
# object does not exist (rclone itself copies nothing and succeeds then).
s3_download() {
	rm -f -- "$3"
	s3_rclone copyto -- ":s3:$1/$2" "$3"
	if [[ ! -f $3 ]]; then
		echo "object $1/$2 not found" >&2
		return 1
	fi
}

# s3_verify_upload FILE BUCKET KEY downloads BUCKET/KEY again and compares its
# SHA-256 with the hash recorded in FILE.sha256.
s3_verify_upload() {
	local file=$1 bucket=$2 key=$3 tmp expected actual
	# Next to the file, on the backup disk: /tmp may be too small for a dump.
	tmp=$(mktemp -d "$(dirname -- "$file")/.verify-s3.XXXXXX")
	s3_download "$bucket" "$key" "$tmp/object" || {
		rm -rf -- "$tmp"
		return 1
	}
	expected=$(expected_checksum "$file")
	actual=$(sha256sum -- "$tmp/object" | cut -d' ' -f1)
	rm -rf -- "$tmp"
	if [[ $actual != "$expected" ]]; then
		echo "uploaded object $bucket/$key hashes to $actual, expected $expected" >&2
		return 1
	fi
}
