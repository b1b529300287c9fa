package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"comanda/accounts"
	"comanda/domain"
	"comanda/eventstore"
	"comanda/httpapi"
	"comanda/internal/apitest"
	"comanda/internal/testkit"
	"comanda/mercadopago"
	"comanda/mercadopago/simulator"
	"comanda/payments"
	"comanda/projections"
	"comanda/projections/catalog"
	"comanda/projections/orders"
	readmodel "comanda/projections/payments"
)

var jwtSecret = []byte("a-test-secret-that-is-32-bytes-long")

const (
	webhookSecret = "test-webhook-secret"
	password      = "correct horse battery"
	// unitPrice is the price of the one product, in ARS minor units.
	unitPrice = 1250
	// deliveryFee is the business's delivery fee.
	deliveryFee = 300
)

// account is a signed-in test user.
type account struct {
	ID    uuid.UUID
	Token string
	Actor domain.Actor
}

// options tune an environment.
type options struct {
	// maxAttempts is the inbox's attempts before a dead letter; 5 when 0.
	maxAttempts int
	// noWorker leaves the inbox worker stopped; tests then call ProcessDue.
	noWorker bool
}

// env is the payment feature wired as the engine wires it, on a fresh
// database: the projections running, the API behind a real HTTP listener (so
// the simulator's webhooks reach it), the real SDK adapter talking to the
// MercadoPago simulator, and the inbox worker.
type env struct {
	t         *testing.T
	ctx       context.Context
	pool      *pgxpool.Pool
	store     *eventstore.Store
	registry  *projections.Registry
	metrics   *prometheus.Registry
	sim       *simulator.Simulator
	simURL    string
	engineURL string
	svc       *payments.Service
	api       *apitest.Client
	handler   http.Handler

	business domain.Business

	customer, other, owner, staff, admin, auditor account
}

func newEnv(t *testing.T, opts ...options) *env {
	t.Helper()
	var o options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.maxAttempts == 0 {
		o.maxAttempts = 5
	}
	pool, _ := testkit.NewDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	workCtx, stopWork := context.WithCancel(ctx)
	var projecting, working sync.WaitGroup
	e := &env{t: t, ctx: ctx, pool: pool, store: eventstore.New(pool),
		registry: projections.NewRegistry(), metrics: prometheus.NewRegistry()}
	// The worker stops first; the projectors are stopped once they have
	// applied everything, so none is stopped in the middle of an event.
	t.Cleanup(func() {
		stopWork()
		working.Wait()
		if head, err := e.store.Head(ctx); err == nil {
			for _, name := range e.registry.Names() {
				p, _ := e.registry.Get(name)
				_ = p.WaitFor(ctx, head, 5*time.Second)
			}
		}
		cancel()
		projecting.Wait()
	})

	manager := projections.NewManager(e.store, e.registry, projections.Config{
		PollInterval: 10 * time.Millisecond, RetryDelay: 20 * time.Millisecond})
	manager.Register(catalog.Definition())
	manager.Register(orders.Definition())
	manager.Register(readmodel.Definition())
	require.NoError(t, manager.Start(ctx))
	projecting.Add(1)
	go func() {
		defer projecting.Done()
		manager.Run(ctx)
	}()

	e.sim = simulator.New(simulator.Config{WebhookSecret: webhookSecret,
		WebhookBackoff: 20 * time.Millisecond, WebhookAttempts: 3})
	simServer := httptest.NewServer(e.sim)
	t.Cleanup(simServer.Close)
	t.Cleanup(e.sim.Close)
	e.simURL = simServer.URL

	// The engine listens before it is built: its URL goes into every checkout.
	var engine http.Handler
	engineServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		engine.ServeHTTP(w, r)
	}))
	t.Cleanup(engineServer.Close)
	e.engineURL = engineServer.URL

	client, err := mercadopago.New("TEST-token", mercadopago.WithBaseURL(e.simURL),
		mercadopago.WithHTTPClient(&http.Client{Timeout: 300 * time.Millisecond}))
	require.NoError(t, err)
	catalogReader := catalog.NewReader(pool)
	reader := readmodel.NewReader(pool)
	e.svc, err = payments.New(payments.Config{
		NotificationURL: e.engineURL + "/v1/webhooks/mercadopago",
		BackURLs: mercadopago.BackURLs{Success: e.engineURL + "/paid",
			Failure: e.engineURL + "/not-paid"},
		MaxAttempts: o.maxAttempts, Backoff: 20 * time.Millisecond, MaxBackoff: 80 * time.Millisecond,
		Workers: 2, PollInterval: 20 * time.Millisecond, ReconcileAfter: time.Hour,
	}, payments.Deps{Store: e.store, MercadoPago: client, Reader: reader,
		BusinessOwner: func(ctx context.Context, id string) (string, error) {
			b, err := catalogReader.Business(ctx, uuid.MustParse(id))
			if err != nil {
				return "", err
			}
			return b.OwnerID.String(), nil
		}})
	require.NoError(t, err)
	e.metrics.MustRegister(e.svc.Collector(), reader.Collector())

	server := httpapi.New(httpapi.Config{}, httpapi.Deps{Pool: pool, Store: e.store,
		Projections: e.registry, Metrics: e.metrics, Gatherer: e.metrics},
		func(_ *httpapi.Server, api *echo.Group) { api.Use(httpapi.Authenticate(jwtSecret)) },
		httpapi.OrdersModule(httpapi.OrdersDeps{Catalog: catalogReader,
			Orders: orders.NewReader(pool), OnPaidCancel: e.svc.OnPaidCancel}),
		httpapi.PaymentsModule(httpapi.PaymentsDeps{Service: e.svc, Reader: reader,
			Catalog: catalogReader, WebhookSecret: webhookSecret, WebhookWindow: 10 * time.Minute}))
	engine = server.Handler()
	e.handler = server.Handler()
	e.api = apitest.New(t, e.handler)

	e.signUp()
	if !o.noWorker {
		working.Add(1)
		go func() {
			defer working.Done()
			e.svc.Run(workCtx)
		}()
	}
	return e
}

// signUp creates the accounts and the business everyone uses.
func (e *env) signUp() {
	t := e.t
	store := accounts.New(e.pool, accounts.Config{Secret: jwtSecret,
		PasswordCost: accounts.PasswordCost{Memory: 1024, Time: 1, Threads: 1}})
	issue := func(acc accounts.Account, err error) account {
		t.Helper()
		require.NoError(t, err)
		pair, err := store.Issue(e.ctx, acc)
		require.NoError(t, err)
		a := account{ID: acc.ID, Token: pair.AccessToken,
			Actor: domain.Actor{ID: acc.ID.String(), Role: acc.Role}}
		if acc.BusinessID != uuid.Nil {
			a.Actor.BusinessID = acc.BusinessID.String()
		}
		return a
	}
	e.customer = issue(store.Register(e.ctx, "ana@example.com", password, "Ana", domain.RoleCustomer))
	e.other = issue(store.Register(e.ctx, "beto@example.com", password, "Beto", domain.RoleCustomer))
	e.owner = issue(store.Register(e.ctx, "dueno@example.com", password, "Dueño",
		domain.RoleBusinessOwner))
	e.admin = issue(store.CreateUser(e.ctx, "admin@example.com", password, "Admin", domain.RoleAdmin))
	e.auditor = issue(store.CreateUser(e.ctx, "audit@example.com", password, "Audit",
		domain.RoleAuditor))

	name, cur, fee := "Empanadas Doña Rosa", domain.ARS, domain.Money{Amount: deliveryFee,
		Currency: domain.ARS}
	id := uuid.NewString()
	ev, err := domain.RegisterBusiness(id, e.owner.Actor, domain.BusinessInput{Name: &name,
		Currency: &cur, DeliveryFee: &fee}, func(string) bool { return true })
	require.NoError(t, err)
	e.business.Apply(ev)
	pos := e.append(domain.StreamBusiness, id, ev)
	e.await(catalog.Name, pos)
	e.staff = issue(store.CreateStaff(e.ctx, uuid.MustParse(id), "staff@example.com", password,
		"Staff"))
}

// append stores one event as the engine's commands would.
func (e *env) append(streamType, id string, ev domain.Event) int64 {
	e.t.Helper()
	payload, err := json.Marshal(ev)
	require.NoError(e.t, err)
	res, err := e.store.Append(e.ctx, eventstore.Stream{Type: streamType, ID: id}, eventstore.Any,
		eventstore.NewEvent{Type: ev.EventType(), Payload: payload, Metadata: eventstore.Metadata{
			EventID: uuid.New(), Actor: "test", OccurredAt: time.Now().UTC()}})
	require.NoError(e.t, err)
	return res.Position
}

// await waits until the named projection has applied position.
func (e *env) await(projection string, position int64) {
	e.t.Helper()
	p, ok := e.registry.Get(projection)
	require.True(e.t, ok)
	require.NoError(e.t, p.WaitFor(e.ctx, position, 10*time.Second))
}

// awaitAll waits until the payments and orders read models hold every event.
func (e *env) awaitAll() {
	e.t.Helper()
	head, err := e.store.Head(e.ctx)
	require.NoError(e.t, err)
	e.await(readmodel.Name, head)
	e.await(orders.Name, head)
}

// placeOrder places an order of two products for delivery, paid by method;
// its total is 2 x 1250 + 300 = 2800 ARS minor units.
func (e *env) placeOrder(method domain.PaymentMethod) string {
	e.t.Helper()
	product := domain.CatalogItem{ID: uuid.NewString(), BusinessID: e.business.ID,
		Name: "Empanada de carne", Price: domain.Money{Amount: unitPrice, Currency: domain.ARS},
		Available: true}
	id := uuid.NewString()
	ev, err := domain.PlaceOrder(id, e.customer.Actor, &e.business, true,
		map[string]domain.CatalogItem{product.ID: product}, domain.OrderInput{
			Fulfillment: domain.Delivery, PaymentMethod: method,
			Address: &domain.Address{Street: "Av. Corrientes 1234", City: "CABA"},
			Lines:   []domain.LineInput{{ProductID: product.ID, Quantity: 2}}})
	require.NoError(e.t, err)
	e.append(domain.StreamOrder, id, ev)
	return id
}

// discount gives the order a fixed discount, as its business would.
func (e *env) discount(orderID string, amount int64) {
	e.t.Helper()
	o, _ := e.order(orderID)
	ev, err := o.ApplyDiscount(e.owner.Actor, e.owner.ID.String(),
		domain.Discount{Kind: "fixed", Value: amount})
	require.NoError(e.t, err)
	e.append(domain.StreamOrder, orderID, ev)
}

// order folds an order's stream and lists its event types.
func (e *env) order(id string) (*domain.PayableOrder, []string) {
	e.t.Helper()
	events, err := e.store.ReadStream(e.ctx, id, 1)
	require.NoError(e.t, err)
	o := &domain.PayableOrder{}
	types := []string{}
	for _, ev := range events {
		de, err := domain.DecodeEvent(ev.Type, ev.Payload)
		require.NoError(e.t, err)
		o.Apply(de)
		types = append(types, ev.Type)
	}
	return o, types
}

// count returns how often an event type occurs in types.
func count(types []string, eventType string) int {
	n := 0
	for _, t := range types {
		if t == eventType {
			n++
		}
	}
	return n
}

// eventually waits until cond holds for the order, failing with its events.
func (e *env) eventually(orderID string, what string, cond func(o *domain.PayableOrder, types []string) bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, types := e.order(orderID)
		if cond(o, types) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("waiting for %s on order %s; its events: %v", what, orderID, types)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkoutBody is the answer of the checkout route.
type checkoutBody struct {
	OrderID      string       `json:"order_id"`
	PreferenceID string       `json:"preference_id"`
	CheckoutURL  string       `json:"checkout_url"`
	Attempt      int          `json:"attempt"`
	Amount       domain.Money `json:"amount"`
	Position     int64        `json:"position"`
}

// checkout starts a checkout as the order's customer.
func (e *env) checkout(orderID string, wantStatus int) checkoutBody {
	e.t.Helper()
	resp := e.api.As(e.customer.Token).Do(http.MethodPost, "/v1/orders/"+orderID+"/payments", nil)
	require.Equal(e.t, wantStatus, resp.Status, "body: %s", resp.Body)
	var out checkoutBody
	resp.JSON(e.t, &out)
	return out
}

var formAction = regexp.MustCompile(`action="([^"]+/(approve|reject))"`)

// decide opens the checkout page as the customer's browser would and presses
// Approve or Reject.
func (e *env) decide(checkoutURL string, approve bool) {
	e.t.Helper()
	get, err := http.NewRequestWithContext(e.ctx, http.MethodGet, checkoutURL, nil)
	require.NoError(e.t, err)
	page, err := http.DefaultClient.Do(get)
	require.NoError(e.t, err)
	body, err := io.ReadAll(page.Body)
	_ = page.Body.Close()
	require.NoError(e.t, err)
	require.Equal(e.t, http.StatusOK, page.StatusCode, "checkout page: %s", body)

	button := "reject"
	if approve {
		button = "approve"
	}
	var action string
	for _, m := range formAction.FindAllStringSubmatch(string(body), -1) {
		if m[2] == button {
			action = m[1]
		}
	}
	require.NotEmpty(e.t, action, "no %s form on the checkout page: %s", button, body)
	base, err := url.Parse(checkoutURL)
	require.NoError(e.t, err)
	ref, err := url.Parse(action)
	require.NoError(e.t, err)

	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	post, err := http.NewRequestWithContext(e.ctx, http.MethodPost,
		base.ResolveReference(ref).String(), strings.NewReader(url.Values{}.Encode()))
	require.NoError(e.t, err)
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := browser.Do(post)
	require.NoError(e.t, err)
	_ = resp.Body.Close()
	require.Contains(e.t, []int{http.StatusOK, http.StatusSeeOther}, resp.StatusCode)
}

// paidOrder places an order, pays it on the checkout page and waits until it
// is paid; it returns the order and MercadoPago's payment id.
func (e *env) paidOrder() (string, string) {
	e.t.Helper()
	id := e.placeOrder(domain.PayMercadoPago)
	co := e.checkout(id, http.StatusCreated)
	e.decide(co.CheckoutURL, true)
	e.eventually(id, "the order to be paid", func(o *domain.PayableOrder, _ []string) bool {
		return o.Paid
	})
	o, _ := e.order(id)
	return id, o.Ledger.PaidBy
}

// simPayment is a payment as the simulator's control API shows it.
type simPayment struct {
	ID                int64   `json:"id"`
	Status            string  `json:"status"`
	TransactionAmount float64 `json:"transaction_amount"`
}

// control calls the simulator's control API and decodes the answer into out.
func (e *env) control(method, path string, body any, out any) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(e.t, err)
		r = strings.NewReader(string(raw))
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.simURL+path, r)
	require.NoError(e.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	require.Less(e.t, resp.StatusCode, 300, "%s %s: %s", method, path, raw)
	if out != nil {
		require.NoError(e.t, json.Unmarshal(raw, out))
	}
}

// fault makes the simulator's next count payment requests fail.
func (e *env) fault(kind string, count int, delayMS int) {
	e.t.Helper()
	e.control(http.MethodPost, "/_sim/faults", map[string]any{"kind": kind, "count": count,
		"delay_ms": delayMS}, nil)
}

// webhook sends a notification signed with secret at signedAt, as
// MercadoPago would.
func (e *env) webhook(paymentID, action, notificationID, requestID, secret string,
	signedAt time.Time) *apitest.Response {
	e.t.Helper()
	body := fmt.Sprintf(`{"id":%s,"live_mode":false,"type":"payment","action":%q,`+
		`"api_version":"v1","data":{"id":%q}}`, notificationID, action, paymentID)
	headers := []string{"X-Request-Id", requestID}
	if secret != "" {
		headers = append(headers, "X-Signature", mercadopago.Sign(secret, paymentID, requestID, signedAt))
	}
	return e.api.Do(http.MethodPost, "/v1/webhooks/mercadopago?data.id="+paymentID+"&type=payment",
		[]byte(body), headers...)
}

// inbox returns how many notifications the inbox holds.
func (e *env) inbox() int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.pool.QueryRow(e.ctx, "SELECT count(*) FROM payment_inbox").Scan(&n))
	return n
}

// metric returns the value of a gauge or counter with the given labels.
func (e *env) metric(name string, labels map[string]string) float64 {
	e.t.Helper()
	families, err := e.metrics.Gather()
	require.NoError(e.t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	e.t.Fatalf("no metric %s%v", name, labels)
	return 0
}

// raw sends a request to the API without checking it against the OpenAPI
// document, for routes other feature areas own.
func (e *env) raw(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		r = strings.NewReader(string(b))
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// paymentBody is a payment as the API serves it.
type paymentBody struct {
	ID           string        `json:"id"`
	OrderID      string        `json:"order_id"`
	Status       string        `json:"status"`
	StatusDetail string        `json:"status_detail"`
	Amount       domain.Money  `json:"amount"`
	Refunded     domain.Money  `json:"refunded"`
	PaidOrder    bool          `json:"paid_order"`
	Review       *string       `json:"review"`
	Expected     *domain.Money `json:"expected"`
	History      []struct {
		Status   string       `json:"status"`
		Refunded domain.Money `json:"refunded"`
	} `json:"history"`
}

type paymentList struct {
	Items      []paymentBody `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

// payments lists payments as the holder of token, waiting for the read
// model to hold every event.
func (e *env) payments(token, query string) (int, paymentList) {
	e.t.Helper()
	e.awaitAll()
	resp := e.api.As(token).Do(http.MethodGet, "/v1/payments"+query, nil)
	var out paymentList
	if resp.Status == http.StatusOK {
		resp.JSON(e.t, &out)
	}
	return resp.Status, out
}

// sign returns the x-signature MercadoPago would send for dataID and
// requestID at a moment.
func sign(dataID, requestID string, at time.Time) string {
	return mercadopago.Sign(webhookSecret, dataID, requestID, at)
}
