package testkit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"comanda/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// insertEvent records one event in the stream.
func insertEvent(t *testing.T, pool *pgxpool.Pool, streamID string) {
	t.Helper()
	_, err := pool.Exec(t.Context(), `
		INSERT INTO events (event_id, stream_id, stream_type, stream_version, event_type,
		                    payload, metadata)
		VALUES (gen_random_uuid(), $1, 'order', 1, 'OrderPlaced', '{}', '{}')`, streamID)
	require.NoError(t, err)
}

// countEvents counts the events in the database.
func countEvents(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM events").Scan(&n))
	return n
}

func TestNewDatabase_TwoDatabasesAreIsolated(t *testing.T) {
	first, firstURL := testkit.NewDatabase(t)
	second, secondURL := testkit.NewDatabase(t)

	insertEvent(t, first, "order-1")
	_, err := first.Exec(t.Context(), "CREATE TABLE only_in_first (id int)")
	require.NoError(t, err)

	require.NotEqual(t, firstURL, secondURL)
	require.Equal(t, 1, countEvents(t, first))
	require.Zero(t, countEvents(t, second))
	var exists bool
	err = second.QueryRow(t.Context(), "SELECT to_regclass('only_in_first') IS NOT NULL").
		Scan(&exists)
	require.NoError(t, err)
	require.False(t, exists)
}

func TestNewDatabase_HoldsTheMigratedSchemaAndNoRows(t *testing.T) {
	pool, _ := testkit.NewDatabase(t)

	var version int64
	err := pool.QueryRow(t.Context(),
		"SELECT max(version_id) FROM goose_db_version WHERE is_applied").Scan(&version)
	require.NoError(t, err)
	require.Positive(t, version)
	require.Zero(t, countEvents(t, pool))
	var offsets int
	require.NoError(t, pool.QueryRow(t.Context(),
		"SELECT count(*) FROM projection_offsets").Scan(&offsets))
	require.Zero(t, offsets)
}

func TestNewDatabase_URLReachesTheSameDatabaseAsThePool(t *testing.T) {
	pool, url := testkit.NewDatabase(t)
	insertEvent(t, pool, "order-1")

	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())

	var n int
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT count(*) FROM events").Scan(&n))
	require.Equal(t, 1, n)
}

func TestNewDatabase_PoolAllowsSixtyConnections(t *testing.T) {
	pool, _ := testkit.NewDatabase(t)

	require.EqualValues(t, 60, pool.Config().MaxConns)

	conns := make([]*pgxpool.Conn, 0, 60)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range 60 {
		c, err := pool.Acquire(t.Context())
		require.NoError(t, err)
		conns = append(conns, c)
	}
}

func TestNewDatabase_DatabaseIsDroppedWhenTheTestEnds(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		pool, url := testkit.NewDatabase(t)
		require.NoError(t, pool.QueryRow(t.Context(), "SELECT current_database()").Scan(&name))

		// A connection the test forgets to close does not keep the database alive.
		_, err := pgx.Connect(t.Context(), url)
		require.NoError(t, err)
	})

	admin, err := pgx.Connect(t.Context(), testkit.Cluster(t).AdminURL("postgres"))
	require.NoError(t, err)
	defer admin.Close(context.Background())
	var exists bool
	err = admin.QueryRow(t.Context(),
		"SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	require.NoError(t, err)
	require.NotEmpty(t, name)
	require.False(t, exists, "database %s is still there", name)
}

func TestNewDatabase_ParallelTestsGetTheirOwnDatabases(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			pool, _ := testkit.NewDatabase(t)

			for v := range i + 1 {
				insertEvent(t, pool, fmt.Sprintf("order-%d", v))
			}

			require.Equal(t, i+1, countEvents(t, pool))
		})
	}
}

func TestCluster_IsSharedByTheTestBinary(t *testing.T) {
	first := testkit.Cluster(t)
	second := testkit.Cluster(t)

	require.Same(t, first, second)
	require.Contains(t, first.URL(), "dbname=postgres")
}

func TestRequireTool_ReturnsThePathOfAnInstalledProgram(t *testing.T) {
	path := testkit.RequireTool(t, "postgres")

	require.FileExists(t, path)
}

func TestRequireTool_FindsPostgreSQLProgramsOffPath(t *testing.T) {
	testkit.RequireTool(t, "initdb")
	t.Setenv("PATH", "")

	path := testkit.RequireTool(t, "pg_dump")

	require.FileExists(t, path)
}

// recordingTB stands in for a test to see whether RequireTool fails or skips it.
type recordingTB struct {
	testing.TB
	failed, skipped bool
}

func (r *recordingTB) Helper()               {}
func (r *recordingTB) Fatalf(string, ...any) { r.failed = true }
func (r *recordingTB) Skipf(string, ...any)  { r.skipped = true }

func TestRequireTool_MissingProgramSkipsOutsideCI(t *testing.T) {
	t.Setenv("CI", "")
	rec := &recordingTB{TB: t}

	path := testkit.RequireTool(rec, "comanda-no-such-program")

	require.Empty(t, path)
	require.True(t, rec.skipped)
	require.False(t, rec.failed)
}

func TestRequireTool_MissingProgramFailsUnderCI(t *testing.T) {
	t.Setenv("CI", "true")
	rec := &recordingTB{TB: t}

	path := testkit.RequireTool(rec, "comanda-no-such-program")

	require.Empty(t, path)
	require.True(t, rec.failed)
	require.False(t, rec.skipped)
}
