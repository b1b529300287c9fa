# shellcheck shell=bash
# Notifications for the backup script: a Slack-compatible incoming webhook
# (SLACK_WEBHOOK_URL) and email over SMTP with curl (SMTP_URL such as
# smtp://mail.example.com:587, SMTP_FROM, SMTP_TO as a comma-separated list,
# and optionally SMTP_USER and SMTP_PASSWORD). Each channel is used only when
# it is configured. Sourcing this file runs nothing.

# json_string TEXT prints TEXT as a JSON string literal.
json_string() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\r'/\\r}
	s=${s//$'\t'/\\t}
	# Other control characters are not allowed raw in JSON; they carry nothing
	# worth escaping in a log message.
	s=$(printf '%s' "$s" | tr -d '\000-\010\013\014\016-\037')
	printf '"%s"' "$s"
}

# notify_slack TEXT posts {"text": TEXT} to the webhook.
notify_slack() {
	curl --silent --show-error --fail --max-time 30 \
		--header 'Content-Type: application/json' \
		--data-binary "{\"text\": $(json_string "$1")}" \
		--output /dev/null \
		-- "$SLACK_WEBHOOK_URL"
}

# notify_email SUBJECT BODY sends a plain-text message to every address in
# SMTP_TO. curl upgrades to TLS when the server offers STARTTLS.
notify_email() {
	local subject=$1 body=$2 rcpt message
	local -a args=(--silent --show-error --fail --max-time 60 --ssl --crlf
		--url "$SMTP_URL" --mail-from "$SMTP_FROM")
	local -a recipients=()
	IFS=',' read -r -a recipients <<<"$SMTP_TO"
	for rcpt in "${recipients[@]}"; do
		rcpt=${rcpt//[[:space:]]/}
		[[ -n $rcpt ]] && args+=(--mail-rcpt "$rcpt")
	done

	message=$(printf '%s\n' \
		"From: $SMTP_FROM" \
		"To: $SMTP_TO" \
		"Subject: $subject" \
		"Date: $(LC_ALL=C date -R)" \
		'MIME-Version: 1.0' \
		'Content-Type: text/plain; charset=UTF-8' \
		'' \
		"$body")

	if [[ -n ${SMTP_USER:-} ]]; then
		# Credentials go through a curl config on a file descriptor, never on
		# the command line where other users could read them.
		local user=${SMTP_USER}:${SMTP_PASSWORD:-}
		user=${user//\\/\\\\}
		user=${user//\"/\\\"}
		printf '%s\n' "$message" |
			curl "${args[@]}" --upload-file - --config <(printf 'user = "%s"\n' "$user")
	else
		printf '%s\n' "$message" | curl "${args[@]}" --upload-file -
	fi
}

# notify STATUS TEXT sends TEXT on every configured channel, STATUS being
# "succeeded" or "failed". It fails when a configured channel fails.
notify() {
	local status=$1 text=$2 failed=0 host
	host=$(uname -n)
	if [[ -n ${SLACK_WEBHOOK_URL:-} ]]; then
		if notify_slack "$text"; then
			log "notified the Slack webhook"
		else
			log_error "could not notify the Slack webhook"
			failed=1
		fi
	fi
	if [[ -n ${SMTP_URL:-} ]]; then
		if [[ -z ${SMTP_FROM:-} || -z ${SMTP_TO:-} ]]; then
			log_error "SMTP_URL is set but SMTP_FROM or SMTP_TO is not: no email sent"
			failed=1
		elif notify_email "[comanda] ${LOG_TAG} ${status} on ${host}" "$text"; then
			log "notified ${SMTP_TO} by email"
		else
			log_error "could not send the email to ${SMTP_TO}"
			failed=1
		fi
	fi
	return "$failed"
}
