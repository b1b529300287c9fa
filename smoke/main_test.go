package smoke_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// baseURL is the engine under test, without a trailing slash.
var baseURL string

// How long the local engine may take to build, to start and to stop.
const (
	buildTimeout = 5 * time.Minute
	startTimeout = 2 * time.Minute
	stopTimeout  = 30 * time.Second
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if url := os.Getenv("SMOKE_BASE_URL"); url != "" {
		baseURL = strings.TrimRight(url, "/")
		return m.Run()
	}

	e, err := startEngine()
	if err != nil {
		fmt.Fprintf(os.Stderr, "smoke: start a local engine: %v\n", err)
		return 1
	}
	baseURL = e.url
	code := m.Run()
	if err := e.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "smoke: stop the local engine: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// localEngine is an engine this package built and started.
type localEngine struct {
	dir    string
	url    string
	cmd    *exec.Cmd
	exited chan error
	log    *engineLog
}

// startEngine builds the engine and starts it on a fresh embedded database in a temporary
// directory, listening on a free port of the loopback address, and waits until /health
// answers 200.
func startEngine() (*localEngine, error) {
	dir, err := os.MkdirTemp("", "comanda-smoke-")
	if err != nil {
		return nil, err
	}
	// As root the embedded server runs as the postgres user, which must reach its data.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	e, err := launch(dir)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	if err := e.waitHealthy(); err != nil {
		return nil, errors.Join(err, e.stop())
	}
	return e, nil
}

func launch(dir string) (*localEngine, error) {
	bin := filepath.Join(dir, "engine")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "comanda/cmd/engine")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the engine: %w\n%s", err, out)
	}

	// The engine outlives this function; stop ends it.
	cmd := exec.CommandContext(context.Background(), bin, "serve")
	cmd.Dir = dir
	// Later entries win over the same names inherited from the environment.
	cmd.Env = append(os.Environ(),
		"APP_ENV=development", "DATABASE_URL=", "REDIS_URL=", "DATA_DIR="+filepath.Join(dir, "data"),
		"UPLOADS_DIR="+filepath.Join(dir, "uploads"), "HTTP_ADDR=127.0.0.1:0",
		"LOG_FORMAT=json", "LOG_LEVEL=info")
	log := &engineLog{addr: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the engine: %w", err)
	}
	e := &localEngine{dir: dir, cmd: cmd, exited: make(chan error, 1), log: log}
	go func() { e.exited <- cmd.Wait() }()

	select {
	case a := <-log.addr:
		e.url = "http://" + a
		return e, nil
	case err := <-e.exited:
		return nil, fmt.Errorf("the engine exited during start-up (%w); its log:\n%s", err, e.log)
	case <-time.After(startTimeout):
		return nil, errors.Join(fmt.Errorf("the engine did not listen within %s; its log:\n%s",
			startTimeout, e.log), e.stop())
	}
}

func (e *localEngine) waitHealthy() error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, e.url+"/health", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s/health did not answer 200 within %s; the engine's log:\n%s",
		e.url, startTimeout, e.log)
}

// stop sends SIGTERM, waits for the engine to drain and stop its database (killing it past
// stopTimeout) and removes its directory.
func (e *localEngine) stop() error {
	var err error
	if e.cmd.Process != nil {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case werr := <-e.exited:
			if werr != nil {
				err = fmt.Errorf("the engine exited with %w; its log:\n%s", werr, e.log)
			}
		case <-time.After(stopTimeout):
			_ = e.cmd.Process.Kill()
			werr := <-e.exited
			err = fmt.Errorf("the engine did not stop within %s of SIGTERM (%w)", stopTimeout, werr)
		}
	}
	return errors.Join(err, os.RemoveAll(e.dir))
}

// engineLog keeps the engine's output for failure reports and sends the address of its
// "engine listening" record on addr, once.
type engineLog struct {
	addr chan string

	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	sent    bool
}

func (l *engineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		line, rest, ok := bytes.Cut(l.partial, []byte("\n"))
		if !ok {
			break
		}
		l.partial = rest
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if !l.sent && json.Unmarshal(line, &rec) == nil && rec.Msg == "engine listening" && rec.Addr != "" {
			l.addr <- rec.Addr
			l.sent = true
		}
	}
	return len(p), nil
}

func (l *engineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}
