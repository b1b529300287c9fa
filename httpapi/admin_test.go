package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"comanda/domain"
	"comanda/eventstore"
)

type projectionJSON struct {
	Name      string `json:"name"`
	Group     string `json:"consumer_group"`
	Position  int64  `json:"position"`
	Head      int64  `json:"head"`
	LagEvents int64  `json:"lag_events"`
	Running   bool   `json:"running"`
	Rebuild   *struct {
		Version         int    `json:"version"`
		State           string `json:"state"`
		EventsDone      int64  `json:"events_done"`
		EventsRemaining int64  `json:"events_remaining"`
	} `json:"rebuild"`
}

type verificationJSON struct {
	Projection  string `json:"projection"`
	Position    int64  `json:"position"`
	Rows        int64  `json:"rows_compared"`
	Differences []struct {
		Table string         `json:"table"`
		Kind  string         `json:"kind"`
		Key   map[string]any `json:"key"`
		Live  map[string]any `json:"live"`
		Want  map[string]any `json:"expected"`
	} `json:"differences"`
}

func TestAdminProjections_AdminsAndAuditorsSeeEveryProjectionOthersAreRefused(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	o := h.order(t, c.customer, pickupOrder(c.business.ID, c.product.ID, 1))
	h.await(t, o.Position)

	for _, u := range []*testUser{c.admin, c.auditor} {
		list := u.Do(http.MethodGet, "/v1/admin/projections", nil)
		one := u.Do(http.MethodGet, "/v1/admin/projections/orders", nil)

		require.Equal(t, http.StatusOK, list.Status, "body: %s", list.Body)
		var all listJSON[projectionJSON]
		list.JSON(t, &all)
		require.Len(t, all.Items, 2)
		require.Equal(t, []string{"catalog", "orders"}, []string{all.Items[0].Name, all.Items[1].Name})
		require.Equal(t, http.StatusOK, one.Status, "body: %s", one.Body)
		var p projectionJSON
		one.JSON(t, &p)
		require.Equal(t, "orders_v1", p.Group)
		require.True(t, p.Running)
		require.GreaterOrEqual(t, p.Position, o.Position)
		require.Nil(t, p.Rebuild)
	}
	requireProblem(t, c.admin.Do(http.MethodGet, "/v1/admin/projections/invoices", nil),
		http.StatusNotFound, domain.CodeNotFound)
	for _, u := range []*testUser{c.owner, c.staff, c.customer} {
		for _, path := range []string{"/v1/admin/projections", "/v1/admin/projections/orders",
			"/v1/admin/events"} {
			requireProblem(t, u.Do(http.MethodGet, path, nil), http.StatusForbidden,
				domain.CodeForbidden)
		}
	}
	for _, u := range []*testUser{c.owner, c.customer, c.auditor} {
		for _, path := range []string{"/v1/admin/projections/orders/rebuild",
			"/v1/admin/projections/orders/verify"} {
			requireProblem(t, u.Do(http.MethodPost, path, nil), http.StatusForbidden,
				domain.CodeForbidden)
		}
		requireProblem(t, u.Do(http.MethodDelete, "/v1/admin/projections/orders/rebuild", nil),
			http.StatusForbidden, domain.CodeForbidden)
	}
	requireProblem(t, h.api.Do(http.MethodGet, "/v1/admin/projections", nil),
		http.StatusUnauthorized, domain.CodeUnauthorized)
	requireProblem(t, h.api.Do(http.MethodPost, "/v1/admin/projections/orders/rebuild", nil),
		http.StatusUnauthorized, domain.CodeUnauthorized)
}

// orderTables are the read tables of the orders projection, with the column
// that tells which business a row belongs to.
var orderTables = map[string]string{
	"orders":         "business_id",
	"order_messages": "(SELECT business_id FROM orders o WHERE o.id = t.order_id)",
	"daily_sales":    "business_id",
}

// snapshot reads every row of the orders read model, through its views,
// except the rows of the business skip, keyed by table.
func (h *testAPI) snapshot(t *testing.T, skip string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for table, business := range orderTables {
		rows, err := h.pool.Query(t.Context(), fmt.Sprintf(
			`SELECT to_jsonb(t)::text FROM %s t WHERE %s IS DISTINCT FROM $1::uuid
			 ORDER BY to_jsonb(t)::text`, table, business), skip)
		require.NoError(t, err)
		for rows.Next() {
			var row string
			require.NoError(t, rows.Scan(&row))
			out[table] = append(out[table], row)
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return out
}

// busyBusiness gives a business a history of orders with messages,
// discounts, moves and cancellations.
func busyBusiness(t *testing.T, h *testAPI, c orderCast, n int) []orderJSON {
	t.Helper()
	var out []orderJSON
	for i := range n {
		o := h.order(t, c.customer, deliveryOrder(c.business.ID, c.product.ID, i%3+1, "cash"))
		giveDiscount(t, c.owner, o.ID, "percent", int64(100*i))
		posted := c.customer.Do(http.MethodPost, "/v1/orders/"+o.ID+"/messages",
			map[string]any{"text": fmt.Sprintf("pedido %d", i)})
		require.Equal(t, http.StatusOK, posted.Status, "body: %s", posted.Body)
		switch i % 3 {
		case 0:
			o = moveOrder(t, c.customer, o.ID, domain.StatusCancelled)
		case 1:
			for _, s := range []domain.Status{domain.StatusConfirmed, domain.StatusPreparing,
				domain.StatusReady, domain.StatusOutForDelivery, domain.StatusDelivered} {
				o = moveOrder(t, c.staff, o.ID, s)
			}
		}
		out = append(out, o)
	}
	h.await(t, h.head(t))
	for i, o := range out {
		out[i] = requireOrder(t, c.admin.Do(http.MethodGet, "/v1/orders/"+o.ID, nil))
	}
	return out
}

func (h *testAPI) activeVersion(t *testing.T, projection string) int {
	t.Helper()
	var v int
	require.NoError(t, h.pool.QueryRow(t.Context(),
		"SELECT active_version FROM projection_versions WHERE projection = $1", projection).Scan(&v))
	return v
}

func (h *testAPI) tableExists(t *testing.T, name string) bool {
	t.Helper()
	var exists bool
	require.NoError(t, h.pool.QueryRow(t.Context(), "SELECT to_regclass($1) IS NOT NULL", name).
		Scan(&exists))
	return exists
}

func TestAdminRebuild_ServesEveryReadMeanwhileAndEndsWithTheSameRows(t *testing.T) {
	h := newTestAPIWith(t, testAPIOptions{catchUpBatch: 5})
	c := newOrderCast(t, h)
	history := busyBusiness(t, h, c, 30)
	busy := h.business(t, c.rival, nil)
	busyProduct := h.product(t, c.rival, busy.ID, nil)
	h.await(t, h.head(t))
	before := h.snapshot(t, busy.ID)
	require.NotEmpty(t, before["order_messages"])

	started := c.admin.Do(http.MethodPost, "/v1/admin/projections/orders/rebuild", nil)
	require.Equal(t, http.StatusAccepted, started.Status, "body: %s", started.Body)
	require.Equal(t, "/v1/admin/projections/orders", started.Header.Get("Location"))
	require.Equal(t, "running", started.Map(t)["state"])
	require.Equal(t, float64(2), started.Map(t)["version"])

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, writes atomic.Int64
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				want := history[(r*7+i)%len(history)]
				resp := c.auditor.Do(http.MethodGet, "/v1/orders/"+want.ID, nil)
				if resp.Status != http.StatusOK {
					t.Errorf("read of %s during the rebuild answered %d: %s", want.ID, resp.Status,
						resp.Body)
					return
				}
				var got orderJSON
				resp.JSON(t, &got)
				if got.Version != want.Version || got.Status != want.Status {
					t.Errorf("read of %s during the rebuild saw version %d %s, not %d %s", want.ID,
						got.Version, got.Status, want.Version, want.Status)
					return
				}
				if list := c.auditor.Do(http.MethodGet, "/v1/orders?limit=5", nil); list.Status != 200 {
					t.Errorf("list during the rebuild answered %d: %s", list.Status, list.Body)
					return
				}
				reads.Add(1)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp := c.stranger.Do(http.MethodPost, "/v1/orders", pickupOrder(busy.ID, busyProduct.ID, 1))
			if resp.Status != http.StatusCreated {
				t.Errorf("order during the rebuild answered %d: %s", resp.Status, resp.Body)
				return
			}
			writes.Add(1)
		}
	}()

	var final projectionJSON
	require.Eventually(t, func() bool {
		resp := c.admin.Do(http.MethodGet, "/v1/admin/projections/orders", nil)
		resp.JSON(t, &final)
		return final.Rebuild != nil && final.Rebuild.State != "running"
	}, 60*time.Second, 20*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()

	require.Equal(t, "completed", final.Rebuild.State)
	require.Zero(t, final.Rebuild.EventsRemaining)
	require.Positive(t, reads.Load())
	require.Positive(t, writes.Load())
	require.Equal(t, 2, h.activeVersion(t, "orders"))
	require.False(t, h.tableExists(t, "orders_v1"), "the old tables are dropped")
	h.await(t, h.head(t))
	require.Equal(t, before, h.snapshot(t, busy.ID))
	var placed int64
	require.NoError(t, h.pool.QueryRow(t.Context(),
		"SELECT count(*) FROM orders WHERE business_id = $1", busy.ID).Scan(&placed))
	require.Equal(t, writes.Load(), placed, "every order placed during the rebuild is in the new tables")
	verified := c.admin.Do(http.MethodPost, "/v1/admin/projections/orders/verify", nil)
	var v verificationJSON
	verified.JSON(t, &v)
	require.Empty(t, v.Differences)
}

// noise appends n events that no read model uses, to make a replay long.
func (h *testAPI) noise(t *testing.T, n int) {
	t.Helper()
	for done := 0; done < n; done += 500 {
		events := make([]eventstore.NewEvent, min(500, n-done))
		for i := range events {
			events[i] = eventstore.NewEvent{Type: "Noise", Payload: json.RawMessage(`{}`),
				Metadata: eventstore.Metadata{EventID: uuid.New(), OccurredAt: time.Now()}}
		}
		_, err := h.store.Append(t.Context(), eventstore.Stream{Type: "noise", ID: uuid.NewString()},
			eventstore.NoStream, events...)
		require.NoError(t, err)
	}
}

func TestAdminRebuild_CanBeCancelledAndLeavesReadsOnTheOldTables(t *testing.T) {
	// A projector that applies one event per transaction makes the rebuild
	// slow enough to cancel; the live projectors are not running at all.
	h := newTestAPIWith(t, testAPIOptions{stopped: true, catchUpBatch: 1})
	admin := h.admin(t)
	h.noise(t, 3000)

	started := admin.Do(http.MethodPost, "/v1/admin/projections/orders/rebuild", nil)
	second := admin.Do(http.MethodPost, "/v1/admin/projections/orders/rebuild", nil)
	running := admin.Do(http.MethodGet, "/v1/admin/projections/orders", nil)
	cancelled := admin.Do(http.MethodDelete, "/v1/admin/projections/orders/rebuild", nil)
	after := admin.Do(http.MethodGet, "/v1/admin/projections/orders", nil)
	again := admin.Do(http.MethodDelete, "/v1/admin/projections/orders/rebuild", nil)

	require.Equal(t, http.StatusAccepted, started.Status, "body: %s", started.Body)
	requireProblem(t, second, http.StatusConflict, domain.CodeConflict)
	var p projectionJSON
	running.JSON(t, &p)
	require.NotNil(t, p.Rebuild)
	require.Equal(t, "running", p.Rebuild.State)
	require.Equal(t, http.StatusNoContent, cancelled.Status, "body: %s", cancelled.Body)
	require.Empty(t, cancelled.Body)
	after.JSON(t, &p)
	require.Equal(t, "cancelled", p.Rebuild.State)
	require.Less(t, p.Rebuild.EventsDone, int64(3000))
	requireProblem(t, again, http.StatusConflict, domain.CodeConflict)
	require.Equal(t, 1, h.activeVersion(t, "orders"))
	require.False(t, h.tableExists(t, "orders_v2"), "a cancelled rebuild drops its tables")
	require.True(t, h.tableExists(t, "orders_v1"))
	var pending *int
	require.NoError(t, h.pool.QueryRow(t.Context(),
		"SELECT rebuild_version FROM projection_versions WHERE projection = 'orders'").Scan(&pending))
	require.Nil(t, pending)
	require.Equal(t, http.StatusOK, admin.Do(http.MethodGet, "/v1/orders", nil).Status)
	requireProblem(t, admin.Do(http.MethodPost, "/v1/admin/projections/invoices/rebuild", nil),
		http.StatusNotFound, domain.CodeNotFound)
}

func TestAdminVerify_HealthyReadModelHasNoDifferencesTamperedRowsAreListed(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	history := busyBusiness(t, h, c, 4)
	h.await(t, h.head(t))
	verify := func(name string) verificationJSON {
		resp := c.admin.Do(http.MethodPost, "/v1/admin/projections/"+name+"/verify", nil)
		require.Equal(t, http.StatusOK, resp.Status, "body: %s", resp.Body)
		var v verificationJSON
		resp.JSON(t, &v)
		return v
	}

	healthy := verify("orders")
	require.Empty(t, healthy.Differences)
	require.Equal(t, "orders", healthy.Projection)
	require.Equal(t, h.head(t), healthy.Position)
	// 4 orders, 4 messages and one day of sales.
	require.Equal(t, int64(9), healthy.Rows)
	require.Empty(t, verify("catalog").Differences)

	suffix := "_v" + strconv.Itoa(h.activeVersion(t, "orders"))
	tampered := history[1]
	var message string
	require.NoError(t, h.pool.QueryRow(t.Context(), "SELECT message_id::text FROM order_messages"+
		suffix+" WHERE order_id = $1", history[2].ID).Scan(&message))
	stranger := uuid.NewString()
	for _, sql := range []string{
		"UPDATE orders" + suffix + " SET total = total + 1 WHERE id = '" + tampered.ID + "'",
		"DELETE FROM order_messages" + suffix + " WHERE message_id = '" + message + "'",
		"INSERT INTO daily_sales" + suffix + " VALUES ('" + stranger + "', '2026-01-02', 'ARS', 1, 0, 0, 0)",
	} {
		_, err := h.pool.Exec(t.Context(), sql)
		require.NoError(t, err, sql)
	}

	broken := verify("orders")

	require.Len(t, broken.Differences, 3)
	byTable := map[string]int{}
	for i, d := range broken.Differences {
		byTable[d.Table] = i
	}
	changed := broken.Differences[byTable["orders"]]
	require.Equal(t, "changed", changed.Kind)
	require.Equal(t, map[string]any{"id": tampered.ID}, changed.Key)
	require.Equal(t, float64(tampered.Total.Amount+1), changed.Live["total"])
	require.Equal(t, float64(tampered.Total.Amount), changed.Want["total"])
	missing := broken.Differences[byTable["order_messages"]]
	require.Equal(t, "missing", missing.Kind)
	require.Equal(t, map[string]any{"message_id": message}, missing.Key)
	require.Nil(t, missing.Live)
	require.Equal(t, "pedido 2", missing.Want["text"])
	extra := broken.Differences[byTable["daily_sales"]]
	require.Equal(t, "extra", extra.Kind)
	require.Equal(t, map[string]any{"business_id": stranger, "day": "2026-01-02"}, extra.Key)
	require.Nil(t, extra.Want)
	requireProblem(t, c.admin.Do(http.MethodPost, "/v1/admin/projections/invoices/verify", nil),
		http.StatusNotFound, domain.CodeNotFound)
}

func TestReadYourWrites_WhatACommandWroteIsReadableAtOnce(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)

	placed := c.customer.Do(http.MethodPost, "/v1/orders", pickupOrder(c.business.ID, c.product.ID, 1))
	require.Equal(t, http.StatusCreated, placed.Status, "body: %s", placed.Body)
	at := xPosition(t, placed)
	id, _ := placed.Map(t)["id"].(string)
	byHeader := c.customer.Do(http.MethodGet, "/v1/orders/"+id, nil, minPos(at)...)
	byQuery := c.owner.Do(http.MethodGet,
		"/v1/orders?business_id="+c.business.ID+"&min_position="+strconv.FormatInt(at, 10), nil)
	renamed := c.owner.Do(http.MethodPatch, "/v1/products/"+c.product.ID, map[string]any{"name": "Humita"})
	product := h.api.Do(http.MethodGet, "/v1/products/"+c.product.ID, nil,
		minPos(xPosition(t, renamed))...)

	require.Equal(t, http.StatusOK, byHeader.Status, "body: %s", byHeader.Body)
	require.Equal(t, float64(at), byHeader.Map(t)["position"])
	var page listJSON[orderJSON]
	byQuery.JSON(t, &page)
	require.Equal(t, id, page.Items[0].ID)
	require.Equal(t, "Humita", product.Map(t)["name"])
	bad := c.customer.Do(http.MethodGet, "/v1/orders/"+id, nil, "X-Min-Position", "-1")
	requireProblem(t, bad, http.StatusUnprocessableEntity, domain.CodeValidation)
}

func TestReadYourWrites_StoppedProjectorAnswers503WithRetryAfter(t *testing.T) {
	h := newTestAPIWith(t, testAPIOptions{stopped: true, readWait: 100 * time.Millisecond})
	owner, customer := h.owner(t), h.customer(t)
	created := owner.Do(http.MethodPost, "/v1/businesses", map[string]any{"name": "X", "currency": "ARS"})
	require.Equal(t, http.StatusCreated, created.Status, "body: %s", created.Body)
	at := xPosition(t, created)
	id, _ := created.Map(t)["id"].(string)

	lagging := []struct {
		user *testUser
		path string
	}{
		{owner, "/v1/businesses/" + id},
		{owner, "/v1/businesses?min_position=" + strconv.FormatInt(at, 10)},
		{owner, "/v1/businesses/" + id + "/products"},
		{customer, "/v1/orders"},
		{owner, "/v1/businesses/" + id + "/reports/daily"},
	}
	for _, l := range lagging {
		resp := l.user.Do(http.MethodGet, l.path, nil, minPos(at)...)

		requireProblem(t, resp, http.StatusServiceUnavailable, domain.CodeProjectionLagging)
		require.Equal(t, "1", resp.Header.Get("Retry-After"), l.path)
	}
	detail := h.api.Do(http.MethodGet, "/v1/businesses/"+id, nil, minPos(at)...)
	require.Equal(t, map[string]any{"projection": "catalog", "position": float64(at)},
		detail.Map(t)["details"])
	requireProblem(t, h.api.Do(http.MethodGet, "/v1/businesses/"+id, nil), http.StatusNotFound,
		domain.CodeNotFound)
}

type loggedEvent struct {
	Position   int64          `json:"position"`
	EventID    string         `json:"event_id"`
	StreamID   string         `json:"stream_id"`
	StreamType string         `json:"stream_type"`
	Version    int64          `json:"version"`
	Type       string         `json:"type"`
	Data       map[string]any `json:"data"`
	Metadata   struct {
		Actor string `json:"actor"`
	} `json:"metadata"`
	RecordedAt string `json:"recorded_at"`
}

func eventLog(t *testing.T, u *testUser, query string) []loggedEvent {
	t.Helper()
	var all []loggedEvent
	next := "/v1/admin/events?" + query
	for range 100 {
		resp := u.Do(http.MethodGet, next, nil)
		require.Equal(t, http.StatusOK, resp.Status, "GET %s: %s", next, resp.Body)
		var page listJSON[loggedEvent]
		resp.JSON(t, &page)
		all = append(all, page.Items...)
		if page.NextCursor == nil {
			return all
		}
		next = "/v1/admin/events?" + query + "&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	t.Fatal("the event log never ended")
	return nil
}

func TestAdminEvents_FiltersAndPagesTheLog(t *testing.T) {
	h := newTestAPI(t)
	c := newOrderCast(t, h)
	o := h.order(t, c.customer, pickupOrder(c.business.ID, c.product.ID, 1))
	moveOrder(t, c.owner, o.ID, domain.StatusConfirmed)
	moveOrder(t, c.staff, o.ID, domain.StatusPreparing)
	second := h.order(t, c.customer, pickupOrder(c.business.ID, c.product.ID, 2))
	total := h.eventCount(t)

	all := eventLog(t, c.auditor, "limit=3")
	require.Len(t, all, int(total))
	for i, e := range all {
		require.Equal(t, int64(i+1), e.Position)
		require.NotEmpty(t, e.EventID)
	}
	types := func(events []loggedEvent) []string {
		out := []string{}
		for _, e := range events {
			out = append(out, e.Type)
		}
		return out
	}
	positions := func(events []loggedEvent) []int64 {
		out := []int64{}
		for _, e := range events {
			out = append(out, e.Position)
		}
		return out
	}

	stream := eventLog(t, c.admin, "stream_id="+o.ID)
	require.Equal(t, []string{"OrderPlaced", "OrderStatusChanged", "OrderStatusChanged"}, types(stream))
	for i, e := range stream {
		require.Equal(t, int64(i+1), e.Version)
		require.Equal(t, "order", e.StreamType)
	}
	require.Equal(t, map[string]any{"order_id": o.ID, "from": "confirmed", "to": "preparing",
		"by_role": "staff"}, stream[2].Data)
	require.Equal(t, []string{"ProductAdded"}, types(eventLog(t, c.admin, "stream_type=product")))
	require.Len(t, eventLog(t, c.admin, "stream_type=order&event_type=OrderPlaced"), 2)
	require.Equal(t, []string{"OrderStatusChanged"},
		types(eventLog(t, c.admin, "actor="+url.QueryEscape("staff:"+c.staff.ID.String()))))
	customers := eventLog(t, c.admin, "actor="+url.QueryEscape("customer:"+c.customer.ID.String()))
	require.Equal(t, []int64{o.Position, second.Position}, positions(customers))
	require.Equal(t, "customer:"+c.customer.ID.String(), customers[0].Metadata.Actor)

	pivot := all[3]
	from := eventLog(t, c.admin, "from="+url.QueryEscape(pivot.RecordedAt))
	to := eventLog(t, c.admin, "to="+url.QueryEscape(pivot.RecordedAt))
	require.Equal(t, positions(all[3:]), positions(from))
	require.Equal(t, positions(all[:3]), positions(to))
	require.Equal(t, positions(all[5:]), positions(eventLog(t, c.admin, "after_position=5")))

	for _, query := range []string{"after_position=-1", "from=ayer", "to=2026-13-01", "limit=500",
		"cursor=***"} {
		resp := c.admin.Do(http.MethodGet, "/v1/admin/events?"+query, nil)
		requireProblem(t, resp, http.StatusUnprocessableEntity, domain.CodeValidation)
	}
	requireProblem(t, h.api.Do(http.MethodGet, "/v1/admin/events", nil), http.StatusUnauthorized,
		domain.CodeUnauthorized)
}
