package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"comanda/migrations"
	"comanda/pglocal"
)

// database is the engine's connection to PostgreSQL and, on the embedded
// default, the private server behind it.
type database struct {
	URL      string
	Pool     *pgxpool.Pool
	embedded *pglocal.Server
}

// openDatabase connects to DATABASE_URL or, when it is empty, starts the
// embedded server in DATA_DIR; then it applies pending migrations.
func openDatabase(ctx context.Context, cfg config, log *slog.Logger) (*database, error) {
	db := &database{URL: cfg.DatabaseURL}
	if db.URL == "" {
		dir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("resolve data directory: %w", err)
		}
		srv, err := pglocal.Start(ctx, pglocal.Config{
			DataDir: filepath.Join(dir, "postgres"), BinDir: cfg.PGBinDir, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		db.embedded, db.URL = srv, srv.URL()
		log.Info("embedded database started", "data_dir", dir)
	}
	version, err := migrations.Up(ctx, db.URL)
	if err != nil {
		db.Close(ctx)
		return nil, err
	}
	log.Info("database schema ready", "version", version)

	pcfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		db.Close(ctx)
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pcfg.MaxConns = cfg.DBMaxConns
	pcfg.MaxConnIdleTime = 5 * time.Minute
	if db.Pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		db.Close(ctx)
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return db, nil
}

// Close closes the pool and stops the embedded server, in that order.
func (db *database) Close(ctx context.Context) {
	if db.Pool != nil {
		db.Pool.Close()
	}
	if db.embedded != nil {
		_ = db.embedded.Stop(ctx)
	}
}

func migrate(ctx context.Context) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	db.Close(context.WithoutCancel(ctx))
	return nil
}
