#!/usr/bin/env bash
# Installs what the backup, restore and benchmark scripts and their tests need
# from Debian: the PostgreSQL 15 server and client programs, rclone (the S3
# client of backup.sh and restore.sh), curl (notifications), util-linux
# (flock, runuser, mountpoint) and shellcheck. Safe to run again: it installs
# only what is missing.
set -euo pipefail

have() {
	command -v "$1" >/dev/null 2>&1 || [[ -x /usr/lib/postgresql/15/bin/$1 ]]
}

missing=()
for tool in pg_dump pg_restore psql pgbench; do
	have "$tool" || missing+=(postgresql-client-15)
done
for tool in initdb pg_ctl postgres; do
	have "$tool" || missing+=(postgresql-15)
done
have rclone || missing+=(rclone)
have curl || missing+=(curl)
have shellcheck || missing+=(shellcheck)
for tool in flock runuser mountpoint; do
	have "$tool" || missing+=(util-linux)
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
