// Package pglocal runs a private PostgreSQL server: it initializes a data directory with
// initdb on first use, starts postgres on a unix socket only, waits until it accepts
// connections, and shuts it down cleanly. The run command uses it with a durable data
// directory; tests use it with throwaway clusters.
//
// It is not a general PostgreSQL manager. The server never listens on TCP; the only role is
// the superuser made by initdb, trusted on the socket; and nothing here upgrades, backs up,
// replicates or tunes a cluster. It wraps the installed initdb and postgres programs rather
// than an embedded-server library, because those download their own binaries, refuse to run
// as root, listen on TCP and keep their files in the temporary directory.
//
// When this program runs as root, initdb and postgres run as the postgres system user, which
// must exist and must be able to reach the data directory. The server's output goes to
// server.log in the data directory; its socket lives in the sibling folder
// "<data directory>.socket", or in a private temporary folder when that path is too long.
package pglocal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrDataDirInUse is returned by Start when another server is already running on the data
// directory. Start then leaves that server and its files alone.
var ErrDataDirInUse = errors.New("data directory in use by a running PostgreSQL server")

// DefaultDatabase is the database Start creates when Config.Database is empty.
const DefaultDatabase = "comanda"

// Config describes the server Start runs.
type Config struct {
	// DataDir is the cluster's data directory. It is created and initialized with initdb on
	// the first start, and kept afterwards.
	DataDir string

	// BinDir is the folder of initdb and postgres; empty means searching as FindBinaries does.
	BinDir string

	// Throwaway trades durability for speed: initdb skips syncing and the server runs with
	// fsync, synchronous_commit and full_page_writes off. A crash of the machine can corrupt
	// such a cluster, so it is for tests only, never for data that must survive.
	Throwaway bool

	// Database is created when missing; empty means DefaultDatabase.
	Database string

	// Logger receives one record when the server has started and one when it has stopped;
	// nil discards them.
	Logger *slog.Logger

	// Settings are extra server settings, passed as -c name=value. They take precedence over
	// the defaults, such as max_connections=200.
	Settings map[string]string
}

// defaultSettings are the server settings Start passes unless Config.Settings overrides them.
// Two hundred connections leave room for tests with dozens of concurrent writers.
var defaultSettings = map[string]string{
	"max_connections": "200",
}

// throwawaySettings turn off what protects a cluster from a crash of the machine.
var throwawaySettings = map[string]string{
	"fsync":              "off",
	"synchronous_commit": "off",
	"full_page_writes":   "off",
}

// Start runs a server on cfg.DataDir, creating the cluster and the database when missing,
// and returns once the server accepts connections. ctx bounds the start-up only; the server
// runs until Stop, or until this program exits.
//
// Start fails with ErrDataDirInUse when a server already runs on the data directory, with
// ErrBinariesMissing when PostgreSQL is not installed, and with the end of the server log
// when postgres exits during start-up.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	begin := time.Now()
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	binDir, err := FindBinaries(cfg.BinDir)
	if err != nil {
		return nil, err
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}

	// Refuse before touching anything a running server might be using.
	if err := checkNotRunning(cfg.DataDir); err != nil {
		return nil, err
	}

	parent := filepath.Dir(cfg.DataDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("create the parent of the data directory: %w", err)
	}
	if err := acct.checkReachable(parent); err != nil {
		return nil, err
	}
	created, err := ensureCluster(ctx, cfg, binDir, acct)
	if err != nil {
		return nil, err
	}

	s, err := launchPatiently(ctx, cfg, binDir, acct)
	if err != nil {
		return nil, err
	}

	s.logger.Info("postgres started", "data_dir", s.dataDir, "pid", s.pid,
		"created_cluster", created, "throwaway", cfg.Throwaway,
		"duration_ms", time.Since(begin).Milliseconds())
	return s, nil
}

// withDefaults validates cfg and fills in its defaults.
func withDefaults(cfg Config) (Config, error) {
	if cfg.DataDir == "" {
		return cfg, errors.New("start postgres: no data directory given")
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return cfg, fmt.Errorf("resolve the data directory: %w", err)
	}
	cfg.DataDir = dataDir

	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for name := range cfg.Settings {
		if name == "" || strings.ContainsAny(name, "= ") {
			return cfg, fmt.Errorf("start postgres: invalid setting name %q", name)
		}
	}
	return cfg, nil
}

// serverArgs returns the command line of postgres for cfg.
func serverArgs(cfg Config, socketDir string) []string {
	settings := maps.Clone(defaultSettings)
	if cfg.Throwaway {
		maps.Copy(settings, throwawaySettings)
	}
	maps.Copy(settings, cfg.Settings)

	args := []string{
		"-D", cfg.DataDir,
		"-k", socketDir,
		"-p", strconv.Itoa(socketPort),
		"-c", "listen_addresses=",
	}
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", name+"="+settings[name])
	}
	return args
}

// ensureDatabase creates the server's database unless it exists.
func (s *Server) ensureDatabase(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.AdminURL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to the new server: %w", err)
	}
	defer conn.Close(ctx)

	var exists bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)",
		s.database).Scan(&exists)
	if err != nil {
		return fmt.Errorf("look up database %s: %w", s.database, err)
	}
	if exists {
		return nil
	}

	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{s.database}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", s.database, err)
	}
	return nil
}
