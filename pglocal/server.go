package pglocal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// readyPollInterval is how often Start looks whether the server accepts connections.
	readyPollInterval = 5 * time.Millisecond

	// killGrace is how long Stop waits after an immediate shutdown before killing outright.
	killGrace = 5 * time.Second

	// leftoverWait is how long Start waits for the processes of a crashed server to exit, and
	// leftoverPoll how often it tries again meanwhile.
	leftoverWait = 15 * time.Second
	leftoverPoll = 100 * time.Millisecond
)

// errLeftoverProcesses reports processes of a crashed server still holding its shared memory.
var errLeftoverProcesses = errors.New("processes of a previous server still hold its memory")

// launchPatiently launches the server, trying again for a while when processes of a server
// that crashed still hold its shared memory: they exit on their own within seconds of noticing
// that their postmaster died.
func launchPatiently(
	ctx context.Context, cfg Config, binDir string, acct account,
) (*Server, error) {
	deadline := time.Now().Add(leftoverWait)
	for {
		s, err := launch(ctx, cfg, binDir, acct)
		if !errors.Is(err, errLeftoverProcesses) || time.Now().After(deadline) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(leftoverPoll):
		}
	}
}

// Server is a postgres process started by Start. Its methods are safe for concurrent use.
type Server struct {
	dataDir       string
	socketDir     string
	tempSocketDir bool
	database      string
	logPath       string
	logger        *slog.Logger

	proc *os.Process
	pid  int

	// done is closed once postgres has exited; exitErr is set before.
	done    chan struct{}
	exitErr error

	// started is set once Start has handed the server out.
	started bool

	stopOnce sync.Once
	stopErr  error
}

// launch starts postgres on an initialized data directory, waits until it accepts
// connections and makes sure the database exists.
func launch(ctx context.Context, cfg Config, binDir string, acct account) (*Server, error) {
	socketDir, tempSocketDir, err := prepareSocketDir(cfg.DataDir, acct)
	if err != nil {
		return nil, err
	}
	logFile, logOffset, err := openServerLog(cfg.DataDir, acct)
	if err != nil {
		removeTempDir(socketDir, tempSocketDir)
		return nil, err
	}
	defer logFile.Close() // postgres holds its own descriptor

	// The server outlives the start-up: ctx must not end it, Stop does.
	cmd := exec.CommandContext(context.WithoutCancel(ctx), filepath.Join(binDir, "postgres"),
		serverArgs(cfg, socketDir)...)
	cmd.Dir = "/"
	cmd.Env = serverEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = serverProcAttr(acct.cred)

	s := &Server{
		dataDir:       cfg.DataDir,
		socketDir:     socketDir,
		tempSocketDir: tempSocketDir,
		database:      cfg.Database,
		logPath:       logFile.Name(),
		logger:        cfg.Logger,
		done:          make(chan struct{}),
	}
	started := make(chan error, 1)
	go s.run(cmd, started)
	if err := <-started; err != nil {
		removeTempDir(socketDir, tempSocketDir)
		return nil, fmt.Errorf("run postgres: %w", err)
	}

	if err := s.waitReady(ctx, logOffset); err != nil {
		s.abort(ctx)
		return nil, err
	}
	if err := s.ensureDatabase(ctx); err != nil {
		s.abort(ctx)
		return nil, err
	}
	s.started = true
	return s, nil
}

// run starts postgres, reports on started, and waits for it to exit.
func (s *Server) run(cmd *exec.Cmd, started chan<- error) {
	// The kernel ties the parent-death signal to the thread that started the child, not to
	// the process. Keeping this goroutine on its own thread until postgres exits makes the
	// signal fire only when this whole program dies.
	runtime.LockOSThread()

	if err := cmd.Start(); err != nil {
		started <- err
		return
	}
	s.proc = cmd.Process
	s.pid = cmd.Process.Pid
	started <- nil

	s.exitErr = cmd.Wait()
	close(s.done)
}

// waitReady returns once the postmaster reports in postmaster.pid that it accepts
// connections, which is what pg_ctl waits for too.
func (s *Server) waitReady(ctx context.Context, logOffset int64) error {
	ticker := time.NewTicker(readyPollInterval)
	defer ticker.Stop()
	for {
		if s.reportsReady() {
			return nil
		}
		select {
		case <-s.done:
			return s.startupFailure(logOffset)
		case <-ctx.Done():
			return fmt.Errorf("wait for postgres to accept connections: %w", ctx.Err())
		case <-ticker.C:
		}
	}
}

// reportsReady reads the postmaster's status line, the eighth of postmaster.pid.
func (s *Server) reportsReady() bool {
	content, err := os.ReadFile(filepath.Join(s.dataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(content), "\n")
	return len(lines) >= 8 &&
		strings.TrimSpace(lines[0]) == strconv.Itoa(s.pid) &&
		strings.TrimSpace(lines[7]) == "ready"
}

// startupFailure explains why postgres exited before accepting connections.
func (s *Server) startupFailure(logOffset int64) error {
	removeTempDir(s.socketDir, s.tempSocketDir)
	logged := readLogSince(s.logPath, logOffset)

	// postgres has no error codes for these; its messages are stable because the server runs
	// with C-locale messages.
	switch {
	case strings.Contains(logged, `lock file "postmaster.pid" already exists`):
		return fmt.Errorf("start postgres in %s: %w: %s", s.dataDir, ErrDataDirInUse,
			lastLines([]byte(logged), 2))
	case strings.Contains(logged, "pre-existing shared memory block"):
		return fmt.Errorf("start postgres in %s: %w: %s", s.dataDir, errLeftoverProcesses,
			lastLines([]byte(logged), 2))
	}
	return fmt.Errorf("start postgres in %s: it exited during start-up (%w); end of %s:\n%s",
		s.dataDir, s.exitErr, s.logPath, strings.TrimSpace(logged))
}

// abort stops a server that failed to start, immediately, and waits until it has exited.
func (s *Server) abort(ctx context.Context) {
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killGrace)
	defer cancel()
	s.signal(syscall.SIGQUIT)
	_ = s.Stop(stopCtx) // the start-up error is the one worth reporting
}

// URL returns the connection string of the server's database for the superuser postgres, over
// the unix socket, in keyword/value form.
func (s *Server) URL() string {
	return s.AdminURL(s.database)
}

// AdminURL returns the connection string of database db for the superuser postgres, over the
// unix socket, in keyword/value form. With db "postgres" it reaches the maintenance database,
// from which other databases can be created and dropped.
func (s *Server) AdminURL(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable",
		quoteValue(s.socketDir), socketPort, quoteValue(db))
}

// quoteValue quotes a keyword/value connection string value when it needs it.
func quoteValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// DataDir returns the absolute path of the server's data directory.
func (s *Server) DataDir() string { return s.dataDir }

// LogFile returns the path of the server's log file.
func (s *Server) LogFile() string { return s.logPath }

// PID returns the process id of the postmaster.
func (s *Server) PID() int { return s.pid }

// Done returns a channel that is closed once postgres has exited, whether through Stop or not.
func (s *Server) Done() <-chan struct{} { return s.done }

// Stop shuts the server down in "fast" mode, which closes open connections, rolls back their
// transactions and writes a checkpoint, and waits until postgres has exited. When ctx ends
// first, Stop shuts it down immediately (the next start then runs crash recovery) and
// returns ctx's error. Stop may be called more than once; later calls report the first
// outcome. It also reports a server that had exited abnormally on its own.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.stopErr = s.stop(ctx)
		removeTempDir(s.socketDir, s.tempSocketDir)
		if s.started {
			s.logger.Info("postgres stopped", "data_dir", s.dataDir, "pid", s.pid)
		}
	})
	return s.stopErr
}

// stop signals the postmaster and waits for it to exit.
func (s *Server) stop(ctx context.Context) error {
	s.signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-ctx.Done():
		select {
		case <-s.done: // it made it after all
		default:
			return s.kill(ctx)
		}
	}
	if s.exitErr != nil {
		return fmt.Errorf("stop postgres: it had exited abnormally: %w", s.exitErr)
	}
	return nil
}

// kill shuts the server down immediately, then outright, and returns ctx's error.
func (s *Server) kill(ctx context.Context) error {
	s.signal(syscall.SIGQUIT)
	select {
	case <-s.done:
	case <-time.After(killGrace):
		// The server's children notice that their postmaster died and exit on their own.
		_ = s.proc.Kill()
		<-s.done
	}
	return fmt.Errorf("stop postgres cleanly: %w", ctx.Err())
}

// signal sends sig to the postmaster unless it has exited.
func (s *Server) signal(sig os.Signal) {
	err := s.proc.Signal(sig)
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.logger.Warn("signal postgres", "pid", s.pid, "signal", sig.String(), "error", err)
	}
}

// removeTempDir removes a temporary socket folder, which is empty once postgres has exited.
func removeTempDir(dir string, temporary bool) {
	if temporary {
		_ = os.RemoveAll(dir)
	}
}
