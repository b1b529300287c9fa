#!/usr/bin/env bash
# Fails when the statement coverage of any given package pattern, read from a
# Go coverprofile, is below a floor.
#
#   scripts/coverage_floor.sh [--min PERCENT] PROFILE PATTERN...
#
# PATTERN is a package pattern relative to the module root, such as
# ./domain/... (the package and everything below it) or ./eventstore (that
# package only). A pattern that matches no statement in the profile fails too:
# an untested or vanished package must not pass the floor by being absent.
set -euo pipefail

usage() {
	sed -n '2,10s/^# \{0,1\}//p' "$0"
}

min=80
while (($# > 0)); do
	case $1 in
	--min)
		(($# >= 2)) || { usage >&2; exit 2; }
		min=$2
		shift 2
		;;
	-h | --help) usage; exit 0 ;;
	*) break ;;
	esac
done
if (($# < 2)); then
	usage >&2
	exit 2
fi
if [[ ! $min =~ ^[0-9]+([.][0-9]+)?$ ]]; then
	echo "coverage_floor: --min must be a number, got '$min'" >&2
	exit 2
fi

profile=$1
shift
[[ -r $profile ]] || { echo "coverage_floor: cannot read $profile" >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
module=$(awk '$1 == "module" { print $2; exit }' "$root/go.mod")
[[ -n $module ]] || { echo "coverage_floor: no module line in $root/go.mod" >&2; exit 2; }

# Each pattern becomes "exact<TAB>prefix": a file's package must equal exact,
# or start with prefix when the pattern ends in /... .
specs=()
for pattern in "$@"; do
	path=${pattern#./}
	path=${path%/}
	if [[ $path == *... ]]; then
		path=${path%...}
		path=${path%/}
		specs+=("$pattern"$'\t'"$module/$path"$'\t'"$module/$path/")
	else
		specs+=("$pattern"$'\t'"$module/$path"$'\t'"")
	fi
done

# A block may appear once per test binary that covered it; it counts as
# covered when any of them ran it.
printf '%s\n' "${specs[@]}" | awk -F'\t' -v min="$min" -v profile="$profile" '
	NR == FNR { name[NR] = $1; exact[NR] = $2; prefix[NR] = $3; n = NR; next }
	FNR == 1 && /^mode:/ { next }
	{
		split($0, f, " ")
		if (!(f[1] in stmts)) { stmts[f[1]] = f[2]; hit[f[1]] = 0 }
		if (f[3] > 0) hit[f[1]] = 1
	}
	END {
		failed = 0
		for (block in stmts) {
			file = block; sub(/:[^:]*$/, "", file)
			pkg = file; sub(/\/[^\/]*$/, "", pkg)
			for (i = 1; i <= n; i++) {
				if (pkg == exact[i] || (prefix[i] != "" && index(pkg "/", prefix[i]) == 1)) {
					total[i] += stmts[block]
					if (hit[block]) covered[i] += stmts[block]
				}
			}
		}
		for (i = 1; i <= n; i++) {
			if (total[i] == 0) {
				printf "FAIL %-20s no statements in %s\n", name[i], profile
				failed = 1
				continue
			}
			pct = 100 * covered[i] / total[i]
			ok = pct + 1e-9 >= min
			printf "%s %-20s %6.2f%% of %d statements (floor %s%%)\n", ok ? "ok  " : "FAIL", name[i], pct, total[i], min
			if (!ok) failed = 1
		}
		exit failed
	}
' - "$profile"
