#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need when it is
# missing (scripts/setup.d), then runs every Go test with the race detector,
# including the smoke suite against a live engine on its embedded default
# database. Usage: scripts/test.sh [extra go test flags]
set -euo pipefail

cd "$(dirname "$0")/.."

# The tests start their own PostgreSQL from the server binaries; without
# them nothing can run, so say what to install in one line and stop.
pg_bin=""
if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
	pg_bin=$(dirname "$(command -v initdb)")
else
	for dir in /usr/lib/postgresql/*/bin; do
		if [[ -x $dir/initdb && -x $dir/postgres ]]; then
			pg_bin=$dir
		fi
	done
fi
if [[ -z $pg_bin ]]; then
	echo "PostgreSQL server binaries (initdb, postgres) not found: install the Debian package postgresql-15 (apt-get install postgresql-15)" >&2
	exit 1
fi

if ! command -v go >/dev/null 2>&1; then
	export PATH=$PATH:/usr/local/go/bin
fi

for step in scripts/setup.d/*.sh; do
	[[ -e $step ]] || continue
	bash "$step"
done

export CI=${CI:-true}
go test -race -count=1 -timeout 60m "$@" ./...
