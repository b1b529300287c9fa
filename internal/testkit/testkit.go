// Package testkit is the shared support for this module's tests: it finds the programs a test
// needs, and gives each test a fresh, migrated PostgreSQL database of its own on a throwaway
// server private to the test binary.
//
// It is for tests only; nothing outside _test.go files should import it. It holds no
// fixtures and no domain knowledge: tests build their own data through the packages under
// test.
//
// A package whose tests use a database calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { testkit.Main(m) }
package testkit

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"comanda/pglocal"
)

// usualToolDirs are searched after PATH, which is often short in containers and CI jobs.
var usualToolDirs = []string{
	"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin",
}

// RequireTool returns the path of the program name, looked up on PATH, then in the usual
// system folders and the PostgreSQL program folder. When it cannot be found the test fails
// under CI=true, so that a misconfigured job cannot pass by skipping, and is skipped
// otherwise.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := findTool(name)
	if err != nil {
		unavailable(t, "%s is needed: %v", name, err)
		return ""
	}
	return path
}

// findTool looks for the program name on PATH and in the usual places.
func findTool(name string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return filepath.Abs(path)
	}

	dirs := usualToolDirs
	if binDir, err := pglocal.FindBinaries(""); err == nil {
		dirs = append(dirs[:len(dirs):len(dirs)], binDir)
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, name)
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() &&
			info.Mode().Perm()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s is not on PATH nor in %v", name, dirs)
}

// unavailable fails the test under CI and skips it otherwise.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if underCI() {
		t.Fatalf(format, args...)
		return
	}
	t.Skipf(format+" (skipped; with CI=true this fails)", args...)
}

// underCI reports whether the CI environment variable is set to a true value.
func underCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// Main runs the tests of a package and then stops the PostgreSQL server they shared, if any,
// and removes its files. Call it from TestMain. Should the test binary die before, the server
// shuts itself down, and the next test binary removes the files left behind.
func Main(m *testing.M) {
	code := m.Run()
	if err := stopCluster(); err != nil {
		slog.Error("stop the test PostgreSQL server", "error", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// errServerStopped ends a test that needs the server after Main has stopped it.
var errServerStopped = errors.New(
	"the test PostgreSQL server was used after testkit.Main stopped it")
