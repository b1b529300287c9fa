package scripts_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"comanda/domain"
	"comanda/eventstore"
	"comanda/migrations"
	"comanda/projections"
	"comanda/projections/orders"
)

// placeOrder appends a real OrderPlaced event, as the engine writes it.
func placeOrder(t *testing.T, store *eventstore.Store) (uuid.UUID, int64) {
	t.Helper()
	id := uuid.New()
	ars := func(n int64) domain.Money { return domain.Money{Amount: n, Currency: domain.ARS} }
	line := domain.Line{ProductID: uuid.NewString(), Name: "Empanada", UnitPrice: ars(150000),
		Quantity: 2, Total: ars(300000)}
	payload, err := json.Marshal(domain.OrderPlaced{OrderID: id.String(), BusinessID: uuid.NewString(),
		CustomerID: uuid.NewString(), Fulfillment: domain.Pickup, Lines: []domain.Line{line},
		PaymentMethod: domain.PayCash, Timezone: "America/Argentina/Buenos_Aires",
		Totals: domain.ComputeTotals(domain.ARS, []domain.Line{line}, ars(0), nil)})
	require.NoError(t, err)
	res, err := store.Append(context.Background(), eventstore.Stream{Type: domain.StreamOrder, ID: id.String()},
		eventstore.NoStream, eventstore.NewEvent{Type: "OrderPlaced", Payload: payload,
			Metadata: eventstore.Metadata{EventID: uuid.New(), Actor: "customer:test", OccurredAt: time.Now()}})
	require.NoError(t, err)
	return id, res.Position
}

// runOrdersReadModel runs the engine's orders read model on pool until the
// test ends and returns its reader and projector registry.
func runOrdersReadModel(t *testing.T, pool *pgxpool.Pool) (*eventstore.Store, *projections.Registry) {
	t.Helper()
	store := eventstore.New(pool)
	reg := projections.NewRegistry()
	m := projections.NewManager(store, reg, projections.Config{PollInterval: 10 * time.Millisecond})
	m.Register(orders.Definition())
	require.NoError(t, m.Start(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return store, reg
}

func openPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func TestRestore_TheEngineKeepsPlacingAndProjectingOrdersAfterARestoreIntoAFreshCluster(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	// The source has lived long: its transaction ids are far ahead of a new cluster's.
	source := startCluster(t, "comanda", 3)
	_, err := migrations.Up(ctx, source.URL())
	require.NoError(t, err)
	srcStore, srcProjectors := runOrdersReadModel(t, openPool(t, source.URL()))
	before, at := placeOrder(t, srcStore)
	live, ok := srcProjectors.Get(orders.Name)
	require.True(t, ok)
	require.NoError(t, live.WaitFor(ctx, at, 10*time.Second))

	backups := filepath.Join(privateDir(t, "backups-*"), "out")
	mustRun(t, map[string]string{"DATABASE_URL": source.URL()}, "backup.sh", "--db-only", "--dest", backups)

	target := startCluster(t, "comanda", 0)
	mustRun(t, map[string]string{"DATABASE_URL": target.URL(),
		"RESTORE_SAFETY_DIR": privateDir(t, "safety-*")}, "restore.sh", "--db-only",
		newestBackup(t, backups, "db"))

	pool := openPool(t, target.URL())
	store, projectors := runOrdersReadModel(t, pool)
	after, pos := placeOrder(t, store)
	p, ok := projectors.Get(orders.Name)
	require.True(t, ok)
	require.NoError(t, p.WaitFor(ctx, pos, 10*time.Second), "the projector sees orders placed after the restore")

	reader := orders.NewReader(pool)
	for _, id := range []uuid.UUID{before, after} {
		o, err := reader.Get(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "placed", o.Status)
		require.Equal(t, int64(300000), o.Total.Amount)
	}
}
