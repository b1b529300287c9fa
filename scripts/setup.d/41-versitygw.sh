#!/usr/bin/env bash
# Installs versitygw, the Versity S3 Gateway, into the Go bin folder
# ($(go env GOPATH)/bin): the tests of the backup scripts run it as a local
# S3-compatible server over a temporary folder. Safe to run again: it builds
# only when that version is not already there.
set -euo pipefail

module=github.com/versity/versitygw
version=v1.8.0

bin_dir=$(go env GOBIN)
[[ -n $bin_dir ]] || bin_dir=$(go env GOPATH)/bin
binary=$bin_dir/versitygw

if [[ -x $binary ]] && [[ $(go version -m "$binary" 2>/dev/null |
	awk '$1 == "mod" { print $3; exit }') == "$version" ]]; then
	exit 0
fi

echo "installing ${module} ${version} into ${bin_dir}"
go install "${module}/cmd/versitygw@${version}"
