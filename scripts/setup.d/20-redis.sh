#!/usr/bin/env bash
# Installs redis-server (Debian package redis-server), which the login rate
# limiting tests start on a free port of their own to check that two engine
# instances share one limit. Safe to run again: it does nothing when
# redis-server is already installed.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
	exit 0
fi

sudo=()
if ((EUID != 0)); then
	sudo=(sudo)
fi

# The package would start a server on :6379 where an init system runs; the
# tests start their own, so a policy-rc.d that denies every start keeps the
# install quiet.
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

install() {
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends redis-server >/dev/null
}

echo "20-redis: installing redis-server" >&2
# The package lists may be missing or stale; refresh them only when the
# install fails, so a machine that already has them skips the download.
if ! install; then
	"${sudo[@]}" apt-get update -qq
	install
fi
