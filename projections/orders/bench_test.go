package orders_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"comanda/eventstore"
	"comanda/internal/testkit"
	"comanda/projections"
	"comanda/projections/orders"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// seedOrderEvents writes orders*5 order events straight into the log with
// set-based SQL: each order is placed, confirmed, prepared, made ready and
// picked up, one transaction per 20,000 orders.
func seedOrderEvents(b testing.TB, pool *pgxpool.Pool, count int) {
	b.Helper()
	ctx := context.Background()
	const chunk = 20_000
	for from := 0; from < count; from += chunk {
		to := min(from+chunk, count) - 1
		_, err := pool.Exec(ctx, seedSQL, from, to)
		require.NoError(b, err)
	}
}

const seedSQL = `
WITH o AS (
    SELECT g, gen_random_uuid() AS id,
           ('00000000-0000-4000-8000-' || lpad(to_hex(g % 50), 12, '0'))::uuid AS biz,
           gen_random_uuid() AS customer,
           timestamptz '2026-11-01 12:00:00+00' + g * interval '1 second' AS at
    FROM generate_series($1::int, $2::int) g
), steps(n, typ, st_from, st_to) AS (
    VALUES (1, 'OrderPlaced', NULL, NULL), (2, 'OrderStatusChanged', 'placed', 'confirmed'),
           (3, 'OrderStatusChanged', 'confirmed', 'preparing'),
           (4, 'OrderStatusChanged', 'preparing', 'ready'),
           (5, 'OrderStatusChanged', 'ready', 'picked_up')
)
INSERT INTO events (event_id, stream_id, stream_type, stream_version, event_type, payload, metadata)
SELECT gen_random_uuid(), o.id::text, 'order', s.n, s.typ,
       CASE WHEN s.n = 1 THEN jsonb_build_object(
           'order_id', o.id, 'business_id', o.biz, 'customer_id', o.customer,
           'fulfillment', 'pickup', 'payment_method', 'cash', 'timezone', 'America/Argentina/Buenos_Aires',
           'lines', jsonb_build_array(jsonb_build_object('product_id', o.biz, 'name', 'Empanada',
               'unit_price', jsonb_build_object('amount', 150000, 'currency', 'ARS'), 'quantity', 2,
               'total', jsonb_build_object('amount', 300000, 'currency', 'ARS'))),
           'totals', jsonb_build_object(
               'subtotal', jsonb_build_object('amount', 300000, 'currency', 'ARS'),
               'delivery_fee', jsonb_build_object('amount', 0, 'currency', 'ARS'),
               'discount', jsonb_build_object('amount', 0, 'currency', 'ARS'),
               'total', jsonb_build_object('amount', 300000, 'currency', 'ARS')))
       ELSE jsonb_build_object('order_id', o.id, 'from', s.st_from, 'to', s.st_to,
           'by_role', 'business_owner') END,
       jsonb_build_object('event_id', gen_random_uuid(), 'actor', 'bench',
           'occurred_at', o.at + s.n * interval '1 minute')
FROM o CROSS JOIN steps s
ORDER BY o.g, s.n`

// ceilingSQL builds the same final order rows from the log with one
// set-based INSERT ... SELECT: the fastest PostgreSQL can fill the table.
const ceilingSQL = `
INSERT INTO orders_ceiling
SELECT (p.payload->>'order_id')::uuid, (p.payload->>'business_id')::uuid,
       (p.payload->>'customer_id')::uuid, coalesce(l.payload->>'to', 'placed'),
       p.payload->>'fulfillment', p.payload->>'payment_method', false, NULL,
       p.payload->'address', p.payload->'lines', coalesce(p.payload->>'note', ''), NULL,
       p.payload#>>'{totals,total,currency}', (p.payload#>>'{totals,subtotal,amount}')::bigint,
       (p.payload#>>'{totals,delivery_fee,amount}')::bigint,
       (p.payload#>>'{totals,discount,amount}')::bigint,
       (p.payload#>>'{totals,total,amount}')::bigint, 0,
       ((p.metadata->>'occurred_at')::timestamptz AT TIME ZONE 'America/Argentina/Buenos_Aires')::date,
       l.stream_version, l.global_position,
       (p.metadata->>'occurred_at')::timestamptz, (l.metadata->>'occurred_at')::timestamptz
FROM events p
JOIN LATERAL (
    SELECT * FROM events x WHERE x.stream_id = p.stream_id
    ORDER BY x.stream_version DESC LIMIT 1
) l ON true
WHERE p.event_type = 'OrderPlaced'`

func rebuildEvents() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_REBUILD_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// BenchmarkRebuild_Orders seeds a million order events (BENCH_REBUILD_EVENTS)
// and rebuilds the orders read model from them, reporting events per second
// beside the set-based ceiling measured on the same rows in the same run.
func BenchmarkRebuild_Orders(b *testing.B) {
	ctx := context.Background()
	pool, _ := testkit.BenchDatabase(b, 8)
	store := eventstore.New(pool)
	total := rebuildEvents()
	seedOrderEvents(b, pool, total/5)
	_, err := pool.Exec(ctx, "VACUUM ANALYZE events")
	require.NoError(b, err)

	reg := projections.NewRegistry()
	m := projections.NewManager(store, reg, projections.Config{CatchUpBatch: 5000})
	m.Register(orders.Definition())
	require.NoError(b, m.Start(ctx))
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go m.Run(runCtx)

	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r, err := m.Rebuild(ctx, orders.Name)
		require.NoError(b, err)
		require.NoError(b, r.Wait(ctx))
		elapsed += time.Since(start)
	}
	b.StopTimer()
	rate := float64(total*b.N) / elapsed.Seconds()

	_, err = pool.Exec(ctx, "CREATE TABLE orders_ceiling (LIKE orders INCLUDING ALL)")
	require.NoError(b, err)
	start := time.Now()
	_, err = pool.Exec(ctx, ceilingSQL)
	require.NoError(b, err)
	ceiling := float64(total) / time.Since(start).Seconds()

	var rows int
	require.NoError(b, pool.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&rows))
	require.Equal(b, total/5, rows)
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(ceiling, "ceiling-events/s")
	b.ReportMetric(rate/ceiling, "ratio")
}
