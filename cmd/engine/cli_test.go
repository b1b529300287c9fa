package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"comanda/eventstore"
	"comanda/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func appendSome(t *testing.T, store *eventstore.Store, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		_, err := store.Append(context.Background(), eventstore.Stream{Type: "audit_test", ID: uuid.NewString()},
			eventstore.NoStream, eventstore.NewEvent{Type: "Tick", Payload: json.RawMessage(`{"i":1}`),
				Metadata: eventstore.Metadata{EventID: uuid.New(), Actor: "admin:x", OccurredAt: time.Now()}})
		require.NoError(t, err)
	}
}

func TestEventsExport_WritesJSONLinesInPositionOrderWithinTheRange(t *testing.T) {
	pool, _ := testkit.NewDatabase(t)
	appendSome(t, eventstore.New(pool), 5)

	var out bytes.Buffer
	require.NoError(t, exportEvents(context.Background(), &database{Pool: pool}, &out, 2, 4, "", ""))
	var positions []int64
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var line struct {
			Position int64          `json:"position"`
			Type     string         `json:"type"`
			Data     map[string]any `json:"data"`
			Metadata struct {
				Actor string `json:"actor"`
			} `json:"metadata"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
		require.Equal(t, "Tick", line.Type)
		require.Equal(t, "admin:x", line.Metadata.Actor)
		require.Equal(t, float64(1), line.Data["i"])
		positions = append(positions, line.Position)
	}
	require.Equal(t, []int64{2, 3, 4}, positions)

	require.Error(t, exportEvents(context.Background(), &database{Pool: pool}, &out, 0, 0, "yesterday", ""))
}

func TestProjectionsVerify_WorksOnAFreeDatabaseAndRefusesWhileAnEngineRuns(t *testing.T) {
	pool, url := testkit.NewDatabase(t)
	appendSome(t, eventstore.New(pool), 3)
	t.Setenv("DATABASE_URL", url)
	t.Setenv("UPLOADS_DIR", t.TempDir())
	t.Setenv("LOG_LEVEL", "error")

	run := func() error {
		cmd := rootCommand()
		cmd.SetArgs([]string{"projections", "verify", "orders"})
		return cmd.ExecuteContext(context.Background())
	}
	require.NoError(t, run(), "no engine holds the database")

	// A running engine holds the owner lock in shared mode.
	conn, err := pool.Acquire(context.Background())
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(context.Background(), "SELECT pg_advisory_lock_shared($1)", ownerLock)
	require.NoError(t, err)
	err = run()
	require.Error(t, err)
	require.Contains(t, err.Error(), "an engine is running")
	_, err = conn.Exec(context.Background(), "SELECT pg_advisory_unlock_shared($1)", ownerLock)
	require.NoError(t, err)
}
