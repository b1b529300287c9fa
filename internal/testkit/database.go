package testkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"comanda/migrations"
	"comanda/pglocal"
)

const (
	// templateDatabase is migrated once per server; every test database is a copy of it.
	templateDatabase = "comanda_template"

	// poolMaxConns bounds the pool NewDatabase returns, enough for tests with 50 writers.
	poolMaxConns = 60

	// serverMaxConnections leaves room for a few tests using full pools at once.
	serverMaxConnections = "300"

	// dirPrefix starts the name of a test server's folder, followed by the test binary's pid.
	dirPrefix = "comanda-pgtest-"

	// startTimeout bounds the start of the server and the migration of the template.
	startTimeout = 2 * time.Minute

	// cleanupTimeout bounds dropping a database and stopping the server.
	cleanupTimeout = 30 * time.Second
)

// cluster is the test binary's PostgreSQL server with its migrated template database.
type cluster struct {
	dir    string
	server *pglocal.Server
	admin  *pgxpool.Pool
}

var (
	// clusterMu guards current, startErr and stopped.
	clusterMu sync.Mutex
	current   *cluster
	startErr  error
	stopped   bool

	// databaseSeq numbers the databases made by this test binary.
	databaseSeq atomic.Int64
)

// Cluster returns the test binary's PostgreSQL server, starting it on first use. Tests use it
// to reach the server itself: to create databases of their own through AdminURL, or to point
// pg_dump at it. Its URL leads to the maintenance database "postgres". The test is skipped,
// or fails under CI=true, when PostgreSQL is not installed.
func Cluster(t testing.TB) *pglocal.Server {
	t.Helper()
	return sharedCluster(t).server
}

// NewDatabase creates a fresh database, private to the test, holding the migrated schema and
// no rows, and returns a pool of up to 60 connections to it and its connection string. The
// pool is closed and the database dropped when the test ends.
func NewDatabase(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	c := sharedCluster(t)
	ctx := t.Context()

	name := databaseName(t)
	_, err := c.admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+
		" TEMPLATE "+templateDatabase)
	require.NoError(t, err, "create test database %s", name)
	t.Cleanup(func() { c.drop(t, name) })

	url := c.server.AdminURL(name)
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	cfg.MaxConns = poolMaxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err, "open a pool on test database %s", name)
	t.Cleanup(pool.Close) // runs before the drop: cleanups run last-in, first-out
	require.NoError(t, pool.Ping(ctx), "connect to test database %s", name)
	return pool, url
}

// databaseName makes a database name, unique within the server, from the test's name.
func databaseName(t testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := fmt.Sprintf("t%d_%s", databaseSeq.Add(1), b.String())
	return name[:min(len(name), 63)] // the longest identifier PostgreSQL keeps
}

// drop drops a test database, ending the connections a test opened itself and left open.
func (c *cluster) drop(t testing.TB, name string) {
	// The test's own context has ended by the time its cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_, err := c.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+
		" WITH (FORCE)")
	if err != nil {
		t.Errorf("drop test database %s: %v", name, err)
	}
}

// sharedCluster returns the running server, starting it on first use, or ends the test.
func sharedCluster(t testing.TB) *cluster {
	t.Helper()
	clusterMu.Lock()
	defer clusterMu.Unlock()

	switch {
	case stopped:
		t.Fatal(errServerStopped)
	case current == nil && startErr == nil:
		current, startErr = startCluster()
	}
	if errors.Is(startErr, pglocal.ErrBinariesMissing) {
		unavailable(t, "%v", startErr)
	}
	if startErr != nil {
		t.Fatalf("start the test PostgreSQL server: %v", startErr)
	}
	return current
}

// startCluster starts a throwaway server in a fresh temporary folder and migrates its
// template database.
func startCluster() (*cluster, error) {
	// The server serves every test of the binary, so no single test's context bounds it.
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	if _, err := pglocal.FindBinaries(""); err != nil {
		return nil, err
	}
	removeAbandonedClusters()

	dir, err := os.MkdirTemp("", dirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("create a folder for the test server: %w", err)
	}
	// As root the server runs as the postgres user, which must be able to reach its files.
	if err := os.Chmod(dir, 0o711); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("open the test server's folder to the server: %w", err)
	}

	server, err := pglocal.Start(ctx, pglocal.Config{
		DataDir:   filepath.Join(dir, "data"),
		Throwaway: true,
		Database:  "postgres",
		Settings:  map[string]string{"max_connections": serverMaxConnections},
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}

	c := &cluster{dir: dir, server: server}
	if err := c.prepareTemplate(ctx); err != nil {
		return nil, errors.Join(err, c.stop())
	}
	return c, nil
}

// prepareTemplate opens the administration pool and creates and migrates the template.
func (c *cluster) prepareTemplate(ctx context.Context) error {
	admin, err := pgxpool.New(ctx, c.server.AdminURL("postgres"))
	if err != nil {
		return fmt.Errorf("open the administration pool: %w", err)
	}
	c.admin = admin

	if _, err := admin.Exec(ctx, "CREATE DATABASE "+templateDatabase); err != nil {
		return fmt.Errorf("create the template database: %w", err)
	}
	if _, err := migrations.Up(ctx, c.server.AdminURL(templateDatabase)); err != nil {
		return fmt.Errorf("migrate the template database: %w", err)
	}

	// A connection to the template would make copying it fail, so none are allowed.
	_, err = admin.Exec(ctx, "ALTER DATABASE "+templateDatabase+
		" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
	if err != nil {
		return fmt.Errorf("seal the template database: %w", err)
	}
	return nil
}

// stop closes the administration pool, stops the server and removes its folder.
func (c *cluster) stop() error {
	if c.admin != nil {
		c.admin.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()

	stopErr := c.server.Stop(ctx)
	if err := os.RemoveAll(c.dir); err != nil {
		return errors.Join(stopErr, fmt.Errorf("remove the test server's folder: %w", err))
	}
	return stopErr
}

// stopCluster stops the server, if one was started, for good.
func stopCluster() error {
	clusterMu.Lock()
	defer clusterMu.Unlock()

	stopped = true
	if current == nil {
		return nil
	}
	err := current.stop()
	current = nil
	return err
}

// removeAbandonedClusters removes the folders of test servers whose test binary died without
// calling Main. A folder whose server still runs is left for a later pass.
func removeAbandonedClusters() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), dirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		serverPID, ok := readServerPID(filepath.Join(dir, "data"))
		if ok && processAlive(serverPID) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// readServerPID returns the postmaster pid recorded in a data directory.
func readServerPID(dataDir string) (int, bool) {
	content, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	firstLine, _, _ := strings.Cut(string(content), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(firstLine))
	return pid, err == nil && pid > 0
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
