package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

const (
	// socketPort only names the socket file: the server listens on no TCP port.
	socketPort = 5432

	// maxSocketDirLen keeps "<dir>/.s.PGSQL.5432" within the 107 bytes a unix socket path
	// may have, with a margin.
	maxSocketDirLen = 90

	// serverLogName is the server's log file inside the data directory.
	serverLogName = "server.log"

	// maxServerLogSize is the size past which Start moves the log aside to server.log.1.
	maxServerLogSize = 16 << 20
)

// checkNotRunning fails with ErrDataDirInUse when the postmaster recorded in the data
// directory's postmaster.pid is alive. A stale file left by a crash passes: postgres itself
// decides whether it may start.
func checkNotRunning(dataDir string) error {
	content, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the lock file of %s: %w", dataDir, err)
	}

	firstLine, _, _ := strings.Cut(string(content), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(firstLine))
	if err != nil || pid <= 0 || !isPostgresProcess(pid) {
		return nil
	}
	return fmt.Errorf("start postgres in %s: %w (postmaster pid %d)", dataDir, ErrDataDirInUse, pid)
}

// isPostgresProcess reports whether pid is a live postgres process. Without /proc it trusts
// the process being alive.
func isPostgresProcess(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist) || !dirExists("/proc/self")
	}
	return strings.TrimSpace(string(comm)) == "postgres"
}

// ensureCluster initializes the data directory unless it already holds a cluster, and
// reports whether it did.
//
// initdb runs in a fresh folder next to the data directory, which is then renamed into
// place: an interrupted initdb never leaves a half-made cluster behind, and of two starts
// racing on a new data directory only one cluster survives.
func ensureCluster(ctx context.Context, cfg Config, binDir string, acct account) (bool, error) {
	if initialized, err := hasCluster(cfg.DataDir); err != nil || initialized {
		return false, err
	}
	if err := requireEmpty(cfg.DataDir); err != nil {
		return false, err
	}

	parent := filepath.Dir(cfg.DataDir)
	staging, err := os.MkdirTemp(parent, filepath.Base(cfg.DataDir)+".initdb-")
	if err != nil {
		return false, fmt.Errorf("create a folder for initdb: %w", err)
	}
	defer os.RemoveAll(staging) // nothing is left to remove once the rename succeeded

	if err := acct.chown(staging); err != nil {
		return false, err
	}
	if err := runInitdb(ctx, binDir, staging, cfg.Throwaway, acct); err != nil {
		return false, err
	}

	if err := os.Rename(staging, cfg.DataDir); err != nil {
		if initialized, _ := hasCluster(cfg.DataDir); initialized {
			return false, nil // a concurrent start got there first
		}
		return false, fmt.Errorf("move the new cluster into %s: %w", cfg.DataDir, err)
	}
	if !cfg.Throwaway {
		if err := syncDir(parent); err != nil {
			return false, err
		}
	}
	return true, nil
}

// hasCluster reports whether dataDir holds an initialized cluster.
func hasCluster(dataDir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("inspect data directory %s: %w", dataDir, err)
	}
}

// requireEmpty fails when dir exists with content, so that initdb never lands on top of
// unrelated files.
func requireEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect data directory %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("data directory %s is not empty but holds no PostgreSQL cluster "+
			"(no PG_VERSION file)", dir)
	}
	return nil
}

// runInitdb creates a cluster in dir whose superuser, postgres, is trusted on the unix socket
// and refused over TCP. The C locale keeps sorting and messages the same on every machine.
func runInitdb(ctx context.Context, binDir, dir string, throwaway bool, acct account) error {
	args := []string{
		"--pgdata=" + dir,
		"--username=postgres",
		"--auth-local=trust",
		"--auth-host=reject",
		"--encoding=UTF8",
		"--locale=C",
		"--no-instructions",
	}
	if throwaway {
		args = append(args, "--no-sync")
	}

	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), args...)
	cmd.Dir = "/"
	cmd.Env = serverEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: acct.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initialize the cluster with initdb: %w: %s", err, lastLines(out, 10))
	}
	return nil
}

// serverEnv is this program's environment without the PG* variables, which could redirect
// the server, and with messages in plain English.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_ALL=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

// prepareSocketDir returns a private folder for the server's unix socket and whether it is
// temporary. It is the data directory's sibling "<name>.socket" unless that path is too long
// for a socket or cannot be made; then it is a fresh folder in the temporary directory.
func prepareSocketDir(dataDir string, acct account) (string, bool, error) {
	dir := dataDir + ".socket"
	if len(dir) <= maxSocketDirLen && makePrivateDir(dir) == nil {
		if err := acct.chown(dir); err != nil {
			return "", false, err
		}
		return dir, false, nil
	}

	dir, err := os.MkdirTemp("", "pgsock-")
	if err != nil {
		return "", false, fmt.Errorf("create a socket folder: %w", err)
	}
	if len(dir) > maxSocketDirLen {
		_ = os.Remove(dir)
		return "", false, fmt.Errorf("create a socket folder: %s is too long for a unix socket; "+
			"set TMPDIR to a shorter path", dir)
	}
	if err := acct.chown(dir); err != nil {
		_ = os.Remove(dir)
		return "", false, err
	}
	return dir, true, nil
}

// makePrivateDir creates dir with mode 0700, or makes an existing directory (not a link) so.
func makePrivateDir(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if err == nil || !errors.Is(err, fs.ErrExist) {
		return err
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return os.Chmod(dir, 0o700)
}

// openServerLog opens the server log for appending, first moving a large one aside, and
// returns it with its size, where the lines of this start begin.
func openServerLog(dataDir string, acct account) (*os.File, int64, error) {
	path := filepath.Join(dataDir, serverLogName)
	if info, err := os.Stat(path); err == nil && info.Size() > maxServerLogSize {
		if err := os.Rename(path, path+".1"); err != nil {
			return nil, 0, fmt.Errorf("move the server log aside: %w", err)
		}
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open the server log: %w", err)
	}
	if err := acct.chown(path); err != nil {
		f.Close()
		return nil, 0, err
	}
	offset, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("seek to the end of the server log: %w", err)
	}
	return f, offset, nil
}

// readLogSince returns what the server log holds from offset on, at most its last 8 KiB.
func readLogSince(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()

	const limit = 8 << 10
	if info, err := f.Stat(); err == nil && info.Size()-offset > limit {
		offset = info.Size() - limit
	}
	content, err := io.ReadAll(io.NewSectionReader(f, offset, limit))
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return string(content)
}

// lastLines returns the last n lines of out, trimmed, on one line each joined by " | ".
func lastLines(out []byte, n int) string {
	lines := strings.Split(string(bytes.TrimSpace(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// syncDir flushes a directory's entries to disk, making a rename inside it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// dirExists reports whether path is an existing directory.
func dirExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}
