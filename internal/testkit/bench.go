package testkit

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"comanda/migrations"
)

// BenchDatabase returns a fresh migrated database for a benchmark. When
// BENCH_DATABASE_URL names a server with normal durability (scripts/bench.sh
// starts one), the database is created there, so figures compare with the
// pgbench ceiling measured on the same server; otherwise it falls back to
// NewDatabase, whose throwaway cluster runs with fsync off, and says so.
func BenchDatabase(b testing.TB, maxConns int32) (*pgxpool.Pool, string) {
	b.Helper()
	base := os.Getenv("BENCH_DATABASE_URL")
	if base == "" {
		b.Logf("BENCH_DATABASE_URL is not set: using the test cluster (fsync off); " +
			"run scripts/bench.sh for figures comparable with the pgbench ceiling")
		pool, url := NewDatabase(b)
		return pool, url
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	require.NoError(b, err, "connect to BENCH_DATABASE_URL")
	defer admin.Close(ctx)
	name := fmt.Sprintf("bench_%d_%d", os.Getpid(), databaseSeq.Add(1))
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	require.NoError(b, err)
	b.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+
				pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			_ = c.Close(context.Background())
		}
	})
	// BENCH_DATABASE_URL is in keyword/value form; a later dbname wins.
	url := base + " dbname=" + name
	_, err = migrations.Up(ctx, url)
	require.NoError(b, err)
	cfg, err := pgxpool.ParseConfig(url)
	require.NoError(b, err)
	cfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	return pool, url
}
