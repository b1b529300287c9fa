package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// buildEngine compiles the engine once per test binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "engine")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "build engine: %s", out)
	return bin
}

// dataDir returns a directory the postgres system user can reach when the
// tests run as root.
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "engine-test-*")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o711))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

type running struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan struct{}
	err    error // the exit status, once done is closed
}

// syncBuffer is a bytes.Buffer the child process and the test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func start(t *testing.T, bin, dir string, env ...string) *running {
	t.Helper()
	r := &running{addr: freeAddr(t), stderr: &syncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(bin)
	r.cmd.Dir = dir
	r.cmd.Env = append(os.Environ(), "HTTP_ADDR="+r.addr, "DATA_DIR="+filepath.Join(dir, "data"),
		"UPLOADS_DIR="+filepath.Join(dir, "uploads"), "DATABASE_URL=")
	r.cmd.Env = append(r.cmd.Env, env...)
	r.cmd.Stderr = r.stderr
	require.NoError(t, r.cmd.Start())
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			_ = r.cmd.Process.Kill()
		}
	})
	return r
}

// waitHealthy polls /health until it reports a healthy database and returns
// how long that took.
func (r *running) waitHealthy(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	for time.Since(began) < limit {
		select {
		case <-r.done:
			t.Fatalf("engine exited early (%v): %s", r.err, r.stderr)
		default:
		}
		resp, err := http.Get("http://" + r.addr + "/health")
		if err == nil {
			var h struct{ Status, Database string }
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && h.Database == "ok" {
				return time.Since(began)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("engine not healthy within %s: %s", limit, r.stderr)
	return 0
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-r.done:
		return r.err
	case <-time.After(20 * time.Second):
		t.Fatalf("engine did not stop on SIGTERM: %s", r.stderr)
		return nil
	}
}

func TestEngine_StartsOnEmbeddedDatabaseKeepsDataAndStopsCleanly(t *testing.T) {
	bin := buildBinary(t)
	dir := dataDir(t)

	cold := start(t, bin, dir)
	coldTook := cold.waitHealthy(t, 15*time.Second)
	require.NoError(t, cold.stop(t), "a SIGTERM stop exits 0: %s", cold.stderr)
	require.Contains(t, cold.stderr.String(), "engine stopping")
	_, err := os.Stat(filepath.Join(dir, "data", "postgres", "PG_VERSION"))
	require.NoError(t, err, "the cluster lives in the data directory")

	warm := start(t, bin, dir)
	warmTook := warm.waitHealthy(t, 3*time.Second)
	require.NotContains(t, warm.stderr.String(), "created_cluster=true", "a restart reuses the cluster")
	t.Logf("cold start to healthy: %s, warm: %s", coldTook, warmTook)

	// A second engine on the same data directory must refuse, clearly.
	second := start(t, bin, dir)
	select {
	case <-second.done:
		require.Error(t, second.err)
		require.Contains(t, second.stderr.String(), "in use")
		require.NotContains(t, second.stderr.String(), "goroutine")
	case <-time.After(15 * time.Second):
		t.Fatal("a second engine on the same data directory kept running")
	}
	warm.waitHealthy(t, time.Second)
	require.NoError(t, warm.stop(t))
}

func TestEngine_MissingPostgresBinariesFailWithOneLine(t *testing.T) {
	bin := buildBinary(t)
	dir := dataDir(t)
	r := start(t, bin, dir, "PG_BIN_DIR="+filepath.Join(dir, "no-such-dir"))
	select {
	case <-r.done:
		require.Error(t, r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("engine without PostgreSQL binaries did not exit")
	}
	lines := strings.Split(strings.TrimSpace(r.stderr.String()), "\n")
	require.Len(t, lines, 1, "one line: %s", r.stderr)
	require.Contains(t, lines[0], "postgresql-15")
}

func TestEngine_RefusesDefaultSecretOutsideDevelopment(t *testing.T) {
	bin := buildBinary(t)
	dir := dataDir(t)
	r := start(t, bin, dir, "APP_ENV=production", "JWT_SECRET=")
	select {
	case <-r.done:
		require.Error(t, r.err)
		require.Contains(t, r.stderr.String(), "JWT_SECRET")
	case <-time.After(10 * time.Second):
		t.Fatal("engine started in production without a secret")
	}
}
