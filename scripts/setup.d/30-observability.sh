#!/usr/bin/env bash
# Installs the tools that the deployment checks in deploy/ need: promtool and
# the prometheus server (Debian package prometheus), docker-compose (v1, used
# only to validate the staging compose file), shellcheck, and the PostgreSQL
# server programs that the engine's embedded database runs in the live scrape
# test. Safe to run again: it installs only what is missing.
set -euo pipefail

missing=()
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
	missing+=(prometheus)
fi
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
	missing+=(postgresql-15)
fi

if ((${#missing[@]} == 0)); then
	exit 0
fi

sudo=()
if ((EUID != 0)); then
	sudo=(sudo)
fi

# The prometheus and postgresql packages would start their own servers where
# an init system runs; a policy-rc.d that denies every start keeps the install
# quiet.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod +x "$policy"
	created_policy=true
fi
cleanup() {
	if [[ $created_policy == true ]]; then
		"${sudo[@]}" rm -f "$policy"
	fi
}
trap cleanup EXIT

echo "30-observability: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
