package pglocal

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrBinariesMissing is returned by FindBinaries, and so by Start, when the PostgreSQL
// server programs cannot be found.
var ErrBinariesMissing = errors.New("PostgreSQL server binaries (initdb, postgres) not found: " +
	"install the Debian package postgresql-15 (apt-get install postgresql-15)")

// debianBinGlob matches the program folders of the Debian PostgreSQL server packages.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// FindBinaries returns the absolute path of the folder that holds the initdb and postgres
// programs.
//
// An explicit folder, when given, is the only place looked at, so that a wrong setting fails
// instead of quietly running another version. Otherwise FindBinaries tries the folder of
// initdb found on PATH (following symbolic links, so that the other programs of the same
// version sit next to it), then the newest /usr/lib/postgresql/<version>/bin. The error wraps
// ErrBinariesMissing.
func FindBinaries(explicit string) (string, error) {
	if explicit != "" {
		if !hasServerBinaries(explicit) {
			return "", fmt.Errorf("%w; looked in %s", ErrBinariesMissing, explicit)
		}
		return filepath.Abs(explicit)
	}

	if dir, ok := binariesOnPath(); ok {
		return dir, nil
	}
	for _, dir := range debianBinDirs() {
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w; looked in PATH and %s", ErrBinariesMissing, debianBinGlob)
}

// binariesOnPath returns the folder of the initdb found on PATH when postgres is next to it.
func binariesOnPath() (string, bool) {
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return "", false
	}

	// Prefer the real folder over a folder of links, which usually lacks pg_dump and friends.
	candidates := []string{filepath.Dir(initdb)}
	if resolved, err := filepath.EvalSymlinks(initdb); err == nil {
		candidates = slices.Insert(candidates, 0, filepath.Dir(resolved))
	}
	for _, dir := range candidates {
		if !hasServerBinaries(dir) {
			continue
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			continue
		}
		return abs, true
	}
	return "", false
}

// debianBinDirs lists the Debian program folders, newest version first.
func debianBinDirs() []string {
	dirs, _ := filepath.Glob(debianBinGlob) // the only possible error is a malformed pattern
	slices.SortFunc(dirs, func(a, b string) int {
		return slices.Compare(debianVersion(b), debianVersion(a))
	})
	return dirs
}

// debianVersion parses the version folder of /usr/lib/postgresql/<version>/bin, such as
// "15" or "9.6"; parts that are not numbers count as zero.
func debianVersion(binDir string) []int {
	var version []int
	for part := range strings.SplitSeq(filepath.Base(filepath.Dir(binDir)), ".") {
		n, _ := strconv.Atoi(part)
		version = append(version, n)
	}
	return version
}

// hasServerBinaries reports whether dir holds executable initdb and postgres programs.
func hasServerBinaries(dir string) bool {
	return isExecutable(filepath.Join(dir, "initdb")) &&
		isExecutable(filepath.Join(dir, "postgres"))
}

// isExecutable reports whether path is a regular file with an execute bit set.
func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0
}
