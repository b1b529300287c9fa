// Package accountstest helps the tests of the packages that use accounts: it
// starts a throwaway Redis server for the shared rate limiter. It is for tests
// only; nothing outside _test.go files should import it.
package accountstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"comanda/internal/testkit"
)

// errExitedEarly reports a server that stopped before it answered.
var errExitedEarly = errors.New("redis-server stopped before answering")

const (
	redisStartTimeout = 10 * time.Second
	redisStopTimeout  = 5 * time.Second
	redisStartTries   = 3
)

// StartRedis starts a redis-server of the test's own, listening on a free
// loopback port, keeping nothing on disk, and stopped when the test ends; it
// returns the server's redis:// URL. Without redis-server the test fails
// under CI=true and is skipped otherwise.
func StartRedis(t testing.TB) string {
	t.Helper()
	bin := testkit.RequireTool(t, "redis-server")
	var err error
	// Another program may take the free port between the check and the start.
	for range redisStartTries {
		var url string
		if url, err = startRedis(t, bin); err == nil {
			return url
		}
	}
	t.Fatalf("start redis-server: %v", err)
	return ""
}

func startRedis(t testing.TB, bin string) (string, error) {
	port, err := freePort(t.Context())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithCancel(t.Context())
	var output syncBuffer
	cmd := exec.CommandContext(ctx, bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = &output, &output
	// Ending the context asks the server to shut down, and kills it after a while.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = redisStopTimeout
	if err := cmd.Start(); err != nil {
		cancel()
		return "", err
	}
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		cancel()
		<-exited
	}

	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	if err := awaitRedis(ctx, url, exited, &waitErr); err != nil {
		stop()
		return "", fmt.Errorf("%w; its output:\n%s", err, output.String())
	}
	t.Cleanup(stop)
	return url, nil
}

// awaitRedis waits until the server at url answers PING or exits; once
// exited is closed, waitErr holds how it exited.
func awaitRedis(ctx context.Context, url string, exited <-chan struct{}, waitErr *error) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	for {
		if err := client.Ping(ctx).Err(); err == nil {
			return nil
		}
		select {
		case <-exited:
			if *waitErr != nil {
				return fmt.Errorf("redis-server: %w", *waitErr)
			}
			return errExitedEarly
		case <-ctx.Done():
			return errors.New("redis-server did not answer in time")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freePort returns a loopback TCP port that nothing listens on right now.
func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("find a free port: %s is not a TCP address", ln.Addr())
	}
	return addr.Port, nil
}

// syncBuffer collects a process's output, written from another goroutine.
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
